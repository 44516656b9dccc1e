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

export function rate(n: number | null | undefined, unit = ""): string {
  if (n === null || n === undefined || !isFinite(n)) return "–";
  if (unit === "B") return `${bytes(n)}/s`;
  const v = n >= 100 ? Math.round(n).toString() : n >= 10 ? n.toFixed(1) : n.toFixed(2).replace(/\.?0+$/, "");
  return `${v}${unit ? " " + unit : ""}/s`;
}

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  return String(n);
}

export function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "–";
  const d = new Date(ms);
  const pad = (x: number, w = 2) => String(x).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
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
