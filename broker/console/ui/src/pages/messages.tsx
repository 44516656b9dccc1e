// The topic page's message browser and produce form.
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, type Decoded, enc, type Message, type Messages, type ProduceResult, usePoll } from "../api";
import { Badge, Cmd, CopyButton, Empty, Loading, useBootstrap, useNow } from "../components";
import { reportError } from "../errors";
import { ago, bytes, compactText, count, decodedText, isNull, isoTime, parseTime, plural, time } from "../format";

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

export function MessageBrowser(props: {
  topic: string;
  state: BrowseState;
  setState: (f: (s: BrowseState) => BrowseState) => void;
  // hws: the partitions' high watermarks now (the topic page polls them),
  // to tell how many records arrived since the list was loaded.
  hws?: Record<string, number>;
}) {
  const { form, path, live } = props.state;
  const setForm = (f: (q: Query) => Query) => props.setState((s) => ({ ...s, form: f(s.form) }));
  const setPath = (p: string) => props.setState((s) => ({ ...s, path: p }));
  const setLive = (l: boolean) => props.setState((s) => ({ ...s, live: l }));
  const [formError, setFormError] = useState<string | undefined>();
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const { data, reload } = usePoll<Messages>(path, live, { notFoundOnPage: true });
  const now = useNow(5000);
  const bootstrap = useBootstrap();
  const set = (k: keyof Query) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value;
    setForm((f) => {
      const n = { ...f, [k]: v };
      // Typing a start offset or time means starting there.
      if (k === "offset" && v.trim() !== "") n.start = "offset";
      if (k === "timestamp" && v.trim() !== "") n.start = "timestamp";
      return n;
    });
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
  const toggle = (id: string) =>
    setOpen((o) => {
      const n = new Set(o);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  // The query the shown list answers (the form may have changed since).
  const shown = new URLSearchParams(path.slice(path.indexOf("?") + 1));
  const shownStart = shown.get("start") ?? "latest";
  const shownPartition = shown.get("partition");
  const shownLimit = Number(shown.get("limit") ?? "50");
  // Records that arrived since the list was loaded, in the partitions it
  // covers. Worth a hint where reloading shows them: the newest records,
  // or a list that reached the end of the log.
  let arrived = 0;
  if (data && props.hws) {
    for (const [p, hw] of Object.entries(props.hws)) {
      if (shownPartition !== null && p !== shownPartition) continue;
      const before = data.high_watermarks[p];
      if (before !== undefined && hw > before) arrived += hw - before;
    }
  }
  const showsNew = shownStart === "latest" || (data !== undefined && data.messages.length < shownLimit && !shown.get("key"));
  const total = data ? Object.values(data.high_watermarks).reduce((a, b) => a + b, 0) : 0;
  return (
    <div>
      <form class="browse-form" onSubmit={submit} aria-label="Find records">
        <label>
          Start
          <select data-testid="browse-start" value={form.start} onChange={set("start")}>
            <option value="latest">newest records</option>
            <option value="earliest">oldest records</option>
            <option value="offset">at an offset</option>
            <option value="timestamp">at a time</option>
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
          Time
          <input data-testid="browse-timestamp" placeholder="2024-01-31T12:00:00Z or ms" title="Unix milliseconds, or a date and time (local unless it ends in Z or an offset)" value={form.timestamp} onInput={set("timestamp")} size={24} />
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
        <label class="check" title="Run the query again every 2 seconds">
          <input type="checkbox" data-testid="browse-live" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> auto-refresh (2 s)
        </label>
      </form>
      {formError && (
        <p class="form-error" role="alert">
          {formError}
        </p>
      )}
      {!data ? (
        <Loading />
      ) : (
        <>
          {!live && arrived > 0 && showsNew && (
            <div class="new-messages" data-testid="browse-new-messages" role="status">
              <span>
                <strong data-testid="browse-new-count">{count(arrived)}</strong> new {arrived === 1 ? "record" : "records"} since this list was loaded.
              </span>
              <button type="button" class="small primary" onClick={() => reload()} data-testid="browse-new-refresh">
                {shownStart === "latest" ? "Show newest" : "Reload"}
              </button>
              <button type="button" class="small" onClick={() => setLive(true)}>
                Auto-refresh
              </button>
            </div>
          )}
          <p class="muted small" data-testid="browse-summary" title="a partition's high watermark is the offset its next record gets">
            {summary(shownStart, data, shownPartition)} · {count(data.scanned)} scanned · high watermark{Object.keys(data.high_watermarks).length === 1 ? "" : "s"}{" "}
            {hwText(data.high_watermarks) || "–"}
          </p>
          {data.messages.length === 0 ? (
            <Empty testid="messages-empty">
              {total === 0 ? (
                <>
                  <p>
                    <strong>No records in {shownPartition === null ? "this topic" : `partition ${shownPartition}`} yet.</strong> Produce one in the Produce tab, or from a terminal:
                  </p>
                  <Cmd>{`echo 'hello, Moldau' | kcat -b ${bootstrap} -t ${shellQuote(props.topic)} -P`}</Cmd>
                  <p>This list shows new records when you press Show (or tick auto-refresh).</p>
                </>
              ) : shown.get("key") ? (
                <p>No record with a key containing “{shown.get("key")}” among the {plural(data.scanned, "record")} scanned.</p>
              ) : (
                <p>No records from this position: try “newest records” or “oldest records”.</p>
              )}
            </Empty>
          ) : (
            <div class="table-wrap">
              <table data-testid="messages-table" class="messages">
                <thead>
                  <tr>
                    <th>
                      <span class="offscreen">Details</span>
                    </th>
                    <th class="num" title="Partition">
                      Part.
                    </th>
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
                  {data.messages.map((m) => {
                    const id = `${m.partition}-${m.offset}`;
                    const isOpen = open.has(id);
                    return (
                      <Fragment key={id}>
                        <tr data-testid="message-row" data-partition={m.partition} data-offset={m.offset} class={isOpen ? "open" : ""}>
                          <td class="expand">
                            <button
                              type="button"
                              class="expand"
                              aria-expanded={isOpen}
                              aria-label={`${isOpen ? "Hide" : "Show"} record ${m.offset} of partition ${m.partition} in full`}
                              title={isOpen ? "Hide details" : "Show the whole record, copy its key or value"}
                              data-testid="message-expand"
                              onClick={() => toggle(id)}
                            >
                              {isOpen ? "▾" : "▸"}
                            </button>
                          </td>
                          <td class="num">{m.partition}</td>
                          <td class="num">{m.offset}</td>
                          <td class="when" title={`${isoTime(m.timestamp)} · ${m.timestamp} ms (${(m.timestamp_type ?? "timestamp").replace(/_/g, " ").toLowerCase()})`}>
                            {time(m.timestamp)}
                            <span class="rel">{ago(m.timestamp, now)}</span>
                          </td>
                          <td data-testid="message-key" class={"payload key" + (isNull(m.key) ? " null" : "")} title={describe("key", m.key)}>
                            <div class="clamp">{compactText(m.key)}</div>
                          </td>
                          <td data-testid="message-value" class={"payload" + (isNull(m.value) ? " null" : "")} title={describe("value", m.value)}>
                            <pre>{compactText(m.value)}</pre>
                          </td>
                          <td data-testid="message-format">
                            <Badge kind={"fmt-" + (m.value?.format ?? "null")}>{m.value?.format ?? "null"}</Badge>
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
                          <td data-testid="message-headers" class="small headers">
                            {m.headers.slice(0, maxHeaderChips).map((h, i) => (
                              <div key={i} class="header-chip">
                                <span class="hk">{h.key}</span>={h.value ?? <span title="not UTF-8: base64">{h.value_base64}</span>}
                              </div>
                            ))}
                            {m.headers.length > maxHeaderChips && (
                              <button type="button" class="linkish small" onClick={() => toggle(id)} title="Show all headers">
                                +{m.headers.length - maxHeaderChips} more
                              </button>
                            )}
                          </td>
                        </tr>
                        {isOpen && (
                          <tr class="detail" data-testid="message-detail">
                            <td colSpan={9}>
                              <RecordDetail m={m} />
                            </td>
                          </tr>
                        )}
                      </Fragment>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </div>
  );
}

// maxHeaderChips headers show in a record's row; the detail row has all.
const maxHeaderChips = 2;

function hwText(hws: Record<string, number>): string {
  return Object.entries(hws)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([p, hw]) => `p${p}: ${hw}`)
    .join(", ");
}

function summary(start: string, data: Messages, partition: string | null): string {
  const n = data.messages.length;
  const where = partition === null ? "" : ` of partition ${partition}`;
  switch (start) {
    case "latest":
      return `The newest ${plural(n, "record")}${where}, newest first`;
    case "earliest":
      return `The oldest ${plural(n, "record")}${where}, oldest first`;
    default:
      return `${plural(n, "record")}${where} from the chosen position`;
  }
}

// shellQuote quotes a topic name for a POSIX shell when it needs it.
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9._\-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

// RecordDetail is one record in full: key and value pretty-printed with
// copy buttons, its headers and metadata.
function RecordDetail(props: { m: Message }) {
  const m = props.m;
  const key = decodedText(m.key);
  const value = decodedText(m.value);
  return (
    <div class="detail-grid">
      <div class="detail-meta">
        <span>
          partition {m.partition} · offset {m.offset}
        </span>
        <span title={`${m.timestamp} ms`}>
          {(m.timestamp_type ?? "timestamp").replace(/_/g, " ").toLowerCase()} {isoTime(m.timestamp)}
        </span>
        <span>{bytes(m.size)} in all</span>
      </div>
      <div class="detail-block">
        <h3>
          Key <span class="badge">{m.key?.format ?? "null"}</span> {m.key && !isNull(m.key) && <span>{bytes(m.key.size)}</span>}
          {!isNull(m.key) && <CopyButton text={key} what="the key" testid="message-copy-key" />}
        </h3>
        <pre class={isNull(m.key) ? "muted" : ""}>{key}</pre>
      </div>
      <div class="detail-block">
        <h3>
          Value <span class="badge">{m.value?.format ?? "null"}</span> {m.value && !isNull(m.value) && <span>{bytes(m.value.size)}</span>}
          {m.value?.schema_id ? <span>schema id {m.value.schema_id}</span> : null}
          {!isNull(m.value) && <CopyButton text={value} what="the value" testid="message-copy-value" />}
        </h3>
        <pre class={isNull(m.value) ? "muted" : ""}>{isNull(m.value) ? "null (a tombstone: compaction deletes the key)" : value}</pre>
        {m.value?.error && <p class="warn-text small">{m.value.error}</p>}
      </div>
      {m.headers.length > 0 && (
        <div class="detail-block">
          <h3>Headers</h3>
          <pre>{m.headers.map((h) => `${h.key}: ${h.value ?? `(base64) ${h.value_base64}`}`).join("\n")}</pre>
        </div>
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

function valuePlaceholder(format: string): string {
  switch (format) {
    case "string":
      return "hello, Moldau";
    case "base64":
      return "aGVsbG8= (the bytes, base64-encoded)";
    case "json":
      return '{"id": 1, "name": "ada"}';
    default:
      return `the record as JSON, encoded with the subject's latest ${format} schema`;
  }
}
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
            title="Empty: the partitioner chooses (by the key's hash, or spread when there is no key)"
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
        <textarea
          data-testid="produce-value"
          rows={6}
          value={value}
          disabled={nullValue}
          placeholder={valuePlaceholder(valueFormat)}
          onInput={(e) => setValue(e.currentTarget.value)}
          class="mono"
        />
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
