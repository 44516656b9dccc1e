// Number, size, rate and time formatting, and the text form of a decoded
// key or value.
import type { Decoded } from "./api";

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

// Numbers are grouped the browser's way (12,345 in English): counts,
// sizes and lags. Offsets are identifiers that people copy into forms and
// command lines, so they are shown as plain digits.
const grouped = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function rate(n: number | null | undefined, unit = ""): string {
  if (n === null || n === undefined || !isFinite(n)) return "–";
  if (unit === "B") return `${bytes(n)}/s`;
  const v = n >= 100 ? grouped.format(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2).replace(/\.?0+$/, "");
  return `${v}${unit ? " " + unit : ""}/s`;
}

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) return "–";
  return grouped.format(n);
}

// plural is "1 record", "2,000 records".
export function plural(n: number, one: string, many = one + "s"): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "–";
  const d = new Date(ms);
  const pad = (x: number, w = 2) => String(x).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// isoTime is the UTC form, for tooltips and copying.
export function isoTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "";
  return new Date(ms).toISOString();
}

// ago is how long before now ms was: "just now", "12 s ago", "5 min ago",
// "3 h ago", "2 d ago"; a time in the future (a producer's clock ahead of
// this browser's) reads "in 4 s".
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined || ms < 0) return "";
  const d = Math.round((now - ms) / 1000);
  const a = Math.abs(d);
  if (a < 2) return "just now";
  const span = a < 60 ? `${a} s` : a < 3600 ? `${Math.floor(a / 60)} min` : a < 86400 ? `${Math.floor(a / 3600)} h` : `${Math.floor(a / 86400)} d`;
  return d >= 0 ? `${span} ago` : `in ${span}`;
}

// duration is a span of milliseconds as "90 s", "5 min", "2 h".
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

// parseTime accepts Unix milliseconds or anything Date.parse understands
// (an ISO date, a datetime-local value).
export function parseTime(s: string): number | undefined {
  const t = s.trim();
  if (t === "") return undefined;
  if (/^-?\d+$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return isNaN(ms) ? undefined : ms;
}

const structured = new Set(["json", "avro", "protobuf", "jsonschema"]);

// decodedText is what the message browser shows for a key or value: pretty
// JSON for the structured formats, the text itself for string, the base64
// text for binary, "null" for no bytes.
export function decodedText(d: Decoded | null | undefined): string {
  if (d === null || d === undefined || d.format === "null") return "null";
  if (structured.has(d.format)) return JSON.stringify(d.value, null, 2) ?? "null";
  if (typeof d.value === "string") return d.value;
  return JSON.stringify(d.value) ?? "null";
}

// compactText is the one-line form of decodedText for the message table:
// JSON without indentation.
export function compactText(d: Decoded | null | undefined): string {
  if (d === null || d === undefined || d.format === "null") return "null";
  if (structured.has(d.format)) return JSON.stringify(d.value) ?? "null";
  return decodedText(d);
}

export function isNull(d: Decoded | null | undefined): boolean {
  return d === null || d === undefined || d.format === "null";
}

// prettySchema pretty-prints a JSON schema text (Avro, JSON Schema) so that a
// line diff is meaningful; Protobuf text is returned as is.
export function prettySchema(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

// breakable splits a long name (a topic, a group) after its dots, dashes
// and underscores so that a narrow column breaks it there, not mid-word.
export function breakable(name: string): string[] {
  return name.replace(/([._-])/g, "$1\u0000").split("\u0000").filter((p) => p !== "");
}
