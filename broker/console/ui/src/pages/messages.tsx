// The topic page's message browser and produce form.
import { useState } from "preact/hooks";
import { api, type Decoded, enc, type Messages, type ProduceResult, usePoll } from "../api";
import { Badge, Empty, Loading } from "../components";
import { reportError } from "../errors";
import { decodedText, isNull, parseTime, time } from "../format";

interface Query {
  start: string;
  partition: string;
  offset: string;
  timestamp: string;
  limit: string;
  key: string;
}

function queryPath(topic: string, q: Query): string | { error: string } {
  const p = new URLSearchParams();
  p.set("start", q.start);
  const part = q.partition.trim();
  if (part !== "" && part !== "-1") {
    if (!/^\d+$/.test(part)) return { error: `partition "${part}" is not a number` };
    p.set("partition", part);
  }
  if (q.start === "offset") {
    if (!/^\d+$/.test(q.offset.trim())) return { error: "start at offset needs an offset" };
    p.set("offset", q.offset.trim());
  }
  if (q.start === "timestamp") {
    const ms = parseTime(q.timestamp);
    if (ms === undefined) return { error: "start at timestamp needs Unix milliseconds or a date" };
    p.set("timestamp", String(ms));
  }
  if (q.limit.trim() !== "") p.set("limit", q.limit.trim());
  if (q.key !== "") p.set("key", q.key);
  return `/api/topics/${enc(topic)}/messages?${p.toString()}`;
}

const initialQuery: Query = { start: "latest", partition: "", offset: "0", timestamp: "", limit: "50", key: "" };

// BrowseState is the message browser's form, the query last submitted and
// the live switch; the topic page keeps it so that it outlives a visit to
// another tab.
export interface BrowseState {
  form: Query;
  path: string;
  live: boolean;
}

export function initialBrowse(topic: string): BrowseState {
  return { form: initialQuery, path: queryPath(topic, initialQuery) as string, live: false };
}

export function MessageBrowser(props: { topic: string; state: BrowseState; setState: (f: (s: BrowseState) => BrowseState) => void }) {
  const { form, path, live } = props.state;
  const setForm = (f: (q: Query) => Query) => props.setState((s) => ({ ...s, form: f(s.form) }));
  const setPath = (p: string) => props.setState((s) => ({ ...s, path: p }));
  const setLive = (l: boolean) => props.setState((s) => ({ ...s, live: l }));
  const [formError, setFormError] = useState<string | undefined>();
  const { data, reload } = usePoll<Messages>(path, live);
  const set = (k: keyof Query) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value;
    setForm((f) => ({ ...f, [k]: v }));
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const p = queryPath(props.topic, form);
    if (typeof p !== "string") {
      setFormError(p.error);
      return;
    }
    setFormError(undefined);
    if (p === path) reload();
    else setPath(p);
  };
  return (
    <div>
      <form class="browse-form" onSubmit={submit}>
        <label>
          Start
          <select data-testid="browse-start" value={form.start} onChange={set("start")}>
            <option value="latest">latest</option>
            <option value="earliest">earliest</option>
            <option value="offset">offset</option>
            <option value="timestamp">timestamp</option>
          </select>
        </label>
        <label>
          Partition
          <input data-testid="browse-partition" inputMode="numeric" placeholder="all" value={form.partition} onInput={set("partition")} size={5} />
        </label>
        <label class={form.start === "offset" ? "" : "dim"}>
          Offset
          <input data-testid="browse-offset" inputMode="numeric" value={form.offset} onInput={set("offset")} size={8} />
        </label>
        <label class={form.start === "timestamp" ? "" : "dim"}>
          Timestamp
          <input data-testid="browse-timestamp" placeholder="ms or 2024-01-31T12:00:00Z" value={form.timestamp} onInput={set("timestamp")} size={22} />
        </label>
        <label>
          Limit
          <input data-testid="browse-limit" type="number" min="1" max="500" value={form.limit} onInput={set("limit")} size={5} />
        </label>
        <label>
          Key contains
          <input data-testid="browse-key-search" type="search" value={form.key} onInput={set("key")} size={12} />
        </label>
        <button type="submit" class="primary" data-testid="browse-submit">
          Show
        </button>
        <label class="check">
          <input type="checkbox" data-testid="browse-live" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> live (every 2 s)
        </label>
      </form>
      {formError && <p class="form-error">{formError}</p>}
      {!data ? (
        <Loading />
      ) : (
        <>
          <p class="muted small">
            {data.messages.length} records shown, {data.scanned} scanned · high watermarks{" "}
            {Object.entries(data.high_watermarks)
              .sort((a, b) => Number(a[0]) - Number(b[0]))
              .map(([p, hw]) => `p${p}: ${hw}`)
              .join(", ") || "–"}
          </p>
          {data.messages.length === 0 ? (
            <Empty testid="messages-empty">No records.</Empty>
          ) : (
            <div class="table-wrap">
              <table data-testid="messages-table" class="messages">
                <thead>
                  <tr>
                    <th class="num">Partition</th>
                    <th class="num">Offset</th>
                    <th>Timestamp</th>
                    <th>Key</th>
                    <th>Value</th>
                    <th>Format</th>
                    <th>Schema</th>
                    <th>Headers</th>
                  </tr>
                </thead>
                <tbody>
                  {data.messages.map((m) => (
                    <tr key={`${m.partition}-${m.offset}`} data-testid="message-row" data-partition={m.partition} data-offset={m.offset}>
                      <td class="num">{m.partition}</td>
                      <td class="num">{m.offset}</td>
                      <td class="nowrap" title={`${m.timestamp} (${m.timestamp_type ?? "timestamp"})`}>
                        {time(m.timestamp)}
                      </td>
                      <td data-testid="message-key" class={"payload key" + (isNull(m.key) ? " null" : "")} title={describe("key", m.key)}>
                        {decodedText(m.key)}
                      </td>
                      <td data-testid="message-value" class={"payload" + (isNull(m.value) ? " null" : "")} title={describe("value", m.value)}>
                        <pre>{decodedText(m.value)}</pre>
                      </td>
                      <td data-testid="message-format">
                        <Badge kind={"fmt-" + (m.value?.format ?? "null")}>
                          {m.value?.format ?? "null"}
                        </Badge>
                      </td>
                      <td class="small" data-testid="message-schema">
                        {m.value?.schema_id ? (
                          <span title={m.value.subject ? `subject ${m.value.subject}` : undefined}>
                            id {m.value.schema_id}
                            {m.value.subject ? ` (${m.value.subject})` : ""}
                          </span>
                        ) : null}
                        {m.value?.error && <span class="warn-text">{m.value.error}</span>}
                      </td>
                      <td data-testid="message-headers" class="small">
                        {m.headers.map((h, i) => (
                          <div key={i}>
                            <code>{h.key}</code>={h.value ?? <span title="not UTF-8: base64">{h.value_base64}</span>}
                          </div>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </div>
  );
}

function describe(what: string, d: Decoded | null): string {
  if (!d) return `${what}: null`;
  let s = `${what}: ${d.format}, ${d.size} bytes`;
  if (d.schema_id) s += `, schema id ${d.schema_id}`;
  if (d.subject) s += ` (${d.subject})`;
  if (d.error) s += `; ${d.error}`;
  return s;
}

const formats = ["string", "json", "base64", "avro", "protobuf", "jsonschema"];
const schemaFormats = new Set(["avro", "protobuf", "jsonschema"]);

export function ProduceForm(props: { topic: string; partitions?: number; onProduced: () => void }) {
  const [partition, setPartition] = useState("");
  const [key, setKey] = useState("");
  const [keyFormat, setKeyFormat] = useState("string");
  const [value, setValue] = useState("");
  const [valueFormat, setValueFormat] = useState("string");
  const [valueSchemaId, setValueSchemaId] = useState("");
  const [nullValue, setNullValue] = useState(false);
  const [headerKey, setHeaderKey] = useState("");
  const [headerValue, setHeaderValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ProduceResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const part = partition.trim() === "" ? -1 : Number(partition.trim());
    if (!Number.isInteger(part)) {
      setError(`partition "${partition}" is not a number`);
      return;
    }
    const body: Record<string, unknown> = {
      partition: part,
      key: key === "" ? null : key,
      value: nullValue ? null : value,
      headers: headerKey !== "" ? [{ key: headerKey, value: headerValue }] : [],
      key_format: keyFormat,
      value_format: valueFormat,
    };
    if (schemaFormats.has(valueFormat) && valueSchemaId.trim() !== "") body.value_schema_id = Number(valueSchemaId.trim());
    setBusy(true);
    try {
      const r = await api<ProduceResult>(`/api/topics/${enc(props.topic)}/messages`, { method: "POST", body });
      setResult(r);
      setError(undefined);
      reportError("produce", undefined);
      props.onProduced();
    } catch (err) {
      const msg = (err as Error).message;
      setResult(undefined);
      setError(msg);
      reportError("produce", `producing to ${props.topic}: ${msg}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form produce" onSubmit={submit}>
      <div class="grid">
        <label>
          Partition
          <input
            data-testid="produce-partition"
            inputMode="numeric"
            placeholder={props.partitions ? `any (0–${props.partitions - 1})` : "any"}
            value={partition}
            onInput={(e) => setPartition(e.currentTarget.value)}
          />
        </label>
        <label>
          Key (empty: null)
          <input data-testid="produce-key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <label>
          Key format
          <select data-testid="produce-key-format" value={keyFormat} onChange={(e) => setKeyFormat(e.currentTarget.value)}>
            {formats.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Value
        <textarea data-testid="produce-value" rows={6} value={value} disabled={nullValue} onInput={(e) => setValue(e.currentTarget.value)} class="mono" />
      </label>
      <div class="grid">
        <label>
          Value format
          <select data-testid="produce-value-format" value={valueFormat} onChange={(e) => setValueFormat(e.currentTarget.value)}>
            {formats.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
        {schemaFormats.has(valueFormat) && (
          <label>
            Value schema id
            <input data-testid="produce-value-schema-id" inputMode="numeric" placeholder={`latest of ${props.topic}-value`} value={valueSchemaId} onInput={(e) => setValueSchemaId(e.currentTarget.value)} />
          </label>
        )}
        <label class="check">
          <input type="checkbox" data-testid="produce-null-value" checked={nullValue} onChange={(e) => setNullValue(e.currentTarget.checked)} /> null value (tombstone)
        </label>
      </div>
      <div class="grid">
        <label>
          Header key
          <input data-testid="produce-header-key" value={headerKey} onInput={(e) => setHeaderKey(e.currentTarget.value)} />
        </label>
        <label>
          Header value
          <input data-testid="produce-header-value" value={headerValue} onInput={(e) => setHeaderValue(e.currentTarget.value)} />
        </label>
      </div>
      <div class="buttons">
        <button type="submit" class="primary" data-testid="produce-submit" disabled={busy}>
          Produce
        </button>
      </div>
      {result && (
        <p class="form-ok" data-testid="produce-result">
          Produced to partition {result.partition} at offset {result.offset} ({time(result.timestamp)}).
        </p>
      )}
      {error && (
        <p class="form-error" data-testid="produce-error">
          {error}
        </p>
      )}
    </form>
  );
}
