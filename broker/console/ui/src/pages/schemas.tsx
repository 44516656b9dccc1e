// Schemas (#/schemas) and one subject (#/schemas/{subject}): versions,
// schema text, a line diff between two versions, compatibility, and
// registering a new version.
import { useMemo, useState } from "preact/hooks";
import { api, enc, type Schemas, type SubjectDetail, usePoll } from "../api";
import { Badge, Cmd, CopyButton, Empty, Loading, Stat } from "../components";
import { lineDiff } from "../diff";
import { reportError } from "../errors";
import { prettySchema } from "../format";

const compatibilities = ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"];
const schemaTypes = ["AVRO", "PROTOBUF", "JSON"];

export function SchemasPage() {
  const { data, reload } = usePoll<Schemas>("/api/schemas");
  const [filter, setFilter] = useState("");
  const [creating, setCreating] = useState(false);
  if (!data) {
    return (
      <div>
        <h1>Schemas</h1>
        <Loading />
      </div>
    );
  }
  if (!data.enabled) {
    return (
      <div>
        <h1>Schemas</h1>
        <Empty testid="schemas-disabled">
          <p>
            <strong>The schema registry is off on this broker.</strong> With it on, Moldau serves Confluent's Schema Registry API, and this page and the
            message browser show Avro, Protobuf and JSON Schema records decoded.
          </p>
          <p>
            It is on by default (at 127.0.0.1:8081) unless moldau is started with an empty <code>--schema-registry-addr</code>. To turn it on, start moldau with
            an address, for example:
          </p>
          <Cmd>moldau --schema-registry-addr 127.0.0.1:8081</Cmd>
        </Empty>
      </div>
    );
  }
  const rows = data.subjects.filter((s) => s.subject.toLowerCase().includes(filter.toLowerCase())).sort((a, b) => a.subject.localeCompare(b.subject));
  return (
    <div>
      <div class="page-head">
        <h1>Schemas</h1>
        <button class="primary" data-testid="schema-new-open" onClick={() => setCreating(!creating)}>
          New subject
        </button>
      </div>
      <div class="stats">
        <Stat label="Subjects" testid="schemas-count" value={String(data.subjects.length)} />
        <Stat label="Global compatibility" value={data.compatibility} />
        <Stat label="Mode" value={data.mode} />
      </div>
      {creating && (
        <Register
          onDone={(subject) => {
            setCreating(false);
            reload();
            location.hash = `#/schemas/${enc(subject)}`;
          }}
        />
      )}
      <div class="toolbar">
        <input type="search" placeholder="Filter subjects" aria-label="Filter subjects" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </div>
      {rows.length === 0 ? (
        data.subjects.length === 0 ? (
          <Empty testid="schemas-empty">
            <p>
              <strong>No schemas registered yet.</strong> Producers with a Confluent serializer register theirs on first use under the subject{" "}
              <code>{"{topic}-value"}</code> (and <code>{"{topic}-key"}</code>); or register one with <em>New subject</em> above.
            </p>
          </Empty>
        ) : (
          <Empty>No subject matches “{filter}”.</Empty>
        )
      ) : (
        <div class="table-wrap">
          <table data-testid="subjects-table">
            <thead>
              <tr>
                <th>Subject</th>
                <th>Type</th>
                <th class="num">Latest version</th>
                <th class="num">ID</th>
                <th>Compatibility</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr key={s.subject} data-testid="subject-row" data-subject={s.subject}>
                  <td>
                    <a href={`#/schemas/${enc(s.subject)}`} data-testid="subject-link">
                      {s.subject}
                    </a>
                  </td>
                  <td>
                    <Badge kind={"fmt-" + s.type.toLowerCase()}>{s.type}</Badge>
                  </td>
                  <td class="num">{s.latest_version}</td>
                  <td class="num">{s.id}</td>
                  <td>{s.compatibility}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

// Register posts a schema to a subject: a new version of it, or a new
// subject when subject is not given.
function Register(props: { subject?: string; type?: string; initial?: string; onDone: (subject: string) => void }) {
  const [subject, setSubject] = useState(props.subject ?? "");
  const [type, setType] = useState(props.type ?? "AVRO");
  const [text, setText] = useState(props.initial ?? "");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const s = subject.trim();
    setBusy(true);
    try {
      const r = await api<{ id: number; version: number }>(`/api/schemas/${enc(s)}/versions`, { method: "POST", body: { schema: text, schema_type: type } });
      setResult(`Registered ${s} version ${r.version} (id ${r.id}).`);
      setError(undefined);
      reportError("schema-register", undefined);
      props.onDone(s);
    } catch (err) {
      const msg = (err as Error).message;
      setResult(undefined);
      setError(msg);
      reportError("schema-register", `registering a schema under ${s}: ${msg}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} data-testid="schema-register-form">
      <h2>{props.subject ? "Register a new version" : "New subject"}</h2>
      <div class="grid">
        {!props.subject && (
          <label>
            Subject
            <input required data-testid="schema-register-subject" value={subject} placeholder="orders-value" onInput={(e) => setSubject(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Type
          <select data-testid="schema-register-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            {schemaTypes.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Schema
        <textarea required class="mono" rows={10} data-testid="schema-register-text" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <div class="buttons">
        <button type="submit" class="primary" data-testid="schema-register-submit" disabled={busy}>
          Register
        </button>
      </div>
      {result && (
        <p class="form-ok" data-testid="schema-register-result">
          {result}
        </p>
      )}
      {error && (
        <p class="form-error" data-testid="schema-register-error">
          {error}
        </p>
      )}
    </form>
  );
}

export function SubjectPage(props: { subject: string }) {
  const s = props.subject;
  const { data, error, status, reload } = usePoll<SubjectDetail>(`/api/schemas/${enc(s)}`, true, { notFoundOnPage: true });
  const versions = useMemo(() => [...(data?.versions ?? [])].sort((a, b) => a.version - b.version), [data]);
  const latest = versions.length > 0 ? versions[versions.length - 1].version : undefined;
  // Chosen versions; undefined follows the data: b the latest, a the one
  // before it.
  const [va, setVa] = useState<number | undefined>();
  const [vb, setVb] = useState<number | undefined>();
  const b = vb ?? latest;
  const a = va ?? (versions.length > 1 ? versions[versions.length - 2].version : latest);
  const schemaA = versions.find((v) => v.version === a);
  const schemaB = versions.find((v) => v.version === b);
  const diff = useMemo(() => (schemaA && schemaB ? lineDiff(prettySchema(schemaA.schema), prettySchema(schemaB.schema)) : []), [schemaA, schemaB]);
  const [compat, setCompat] = useState<string | undefined>();
  const [compatMsg, setCompatMsg] = useState<string | undefined>();
  const shownCompat = compat ?? data?.compatibility ?? "";
  const saveCompat = async () => {
    try {
      await api(`/api/schemas/${enc(s)}/config`, { method: "PUT", body: { compatibility: shownCompat === "" ? null : shownCompat } });
      reportError("schema-compatibility", undefined);
      setCompat(undefined);
      setCompatMsg(shownCompat === "" ? "Compatibility follows the global setting." : `Compatibility set to ${shownCompat}.`);
      reload();
    } catch (err) {
      reportError("schema-compatibility", `setting the compatibility of ${s}: ${(err as Error).message}`);
    }
  };
  const changed = diff.filter((l) => l.op !== "same").length;
  return (
    <div>
      <p class="crumbs">
        <a href="#/schemas">Schemas</a> /
      </p>
      <h1 data-testid="subject-title">{s}</h1>
      {/-(key|value)$/.test(s) && (
        <p class="muted small">
          By Confluent's default naming (TopicNameStrategy) this subject holds the {s.endsWith("-key") ? "keys" : "values"} of topic{" "}
          <a href={`#/topics/${enc(s.replace(/-(key|value)$/, ""))}`}>{s.replace(/-(key|value)$/, "")}</a>.
        </p>
      )}
      {!data ? (
        status === 404 ? (
          <Empty testid="subject-not-found">
            <p>
              <strong>There is no subject “{s}”.</strong> <a href="#/schemas">All subjects</a>
            </p>
          </Empty>
        ) : error ? (
          <Empty>Could not load subject {s}.</Empty>
        ) : (
          <Loading />
        )
      ) : (
        <>
          <div class="stats">
            <Stat label="Versions" value={String(versions.length)} />
            <Stat label="Latest" value={latest !== undefined ? `v${latest}` : "–"} />
            <Stat label="Type" value={schemaB?.type ?? "–"} />
            <div class="stat wide">
              <div class="stat-label">Compatibility</div>
              <div class="inline-form">
                <select data-testid="schema-compatibility" aria-label="Compatibility of this subject" value={shownCompat} onChange={(e) => {
                    setCompat(e.currentTarget.value);
                    setCompatMsg(undefined);
                  }}
                >
                  <option value="">(global default)</option>
                  {compatibilities.map((c) => (
                    <option key={c} value={c}>
                      {c}
                    </option>
                  ))}
                </select>
                <button class="small primary" data-testid="schema-compatibility-save" onClick={saveCompat}>
                  Save
                </button>
                {compatMsg && (
                  <span class="form-ok small" data-testid="schema-compatibility-result">
                    {compatMsg}
                  </span>
                )}
              </div>
            </div>
          </div>
          <div class="versions-bar">
            <label>
              Compare version
              <select data-testid="schema-version-select-a" value={String(a ?? "")} onChange={(e) => setVa(Number(e.currentTarget.value))}>
                {versions.map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    v{v.version} (id {v.id})
                  </option>
                ))}
              </select>
            </label>
            <label>
              with version
              <select data-testid="schema-version-select-b" value={String(b ?? "")} onChange={(e) => setVb(Number(e.currentTarget.value))}>
                {versions.map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    v{v.version} (id {v.id})
                  </option>
                ))}
              </select>
            </label>
            <span class="muted small">{a === b ? "same version" : `${changed} line${changed === 1 ? "" : "s"} changed`}</span>
          </div>
          <div class="two-col">
            <div>
              <h2>
                Diff v{a} → v{b}
              </h2>
              <pre class="diff" data-testid="schema-diff">
                {diff.map((l, i) => (
                  <div key={i} class={"diff-line diff-" + l.op}>
                    <span class="ln">{l.a ?? ""}</span>
                    <span class="ln">{l.b ?? ""}</span>
                    <span class="sign">{l.op === "add" ? "+" : l.op === "del" ? "-" : " "}</span>
                    {l.text}
                  </div>
                ))}
              </pre>
            </div>
            <div>
              <h2>
                Schema v{b} {schemaB && <span class="muted small">id {schemaB.id}</span>}{" "}
                {schemaB && <CopyButton text={prettySchema(schemaB.schema)} what="the schema" testid="schema-copy" />}
              </h2>
              <pre class="schema" data-testid="schema-text">
                {schemaB ? prettySchema(schemaB.schema) : ""}
              </pre>
              {schemaB && (schemaB.references ?? []).length > 0 && (
                <p class="small">
                  References:{" "}
                  {(schemaB.references ?? []).map((r) => (
                    <span key={r.name}>
                      <code>{r.name}</code> → <a href={`#/schemas/${enc(r.subject)}`}>{r.subject}</a> v{r.version}{" "}
                    </span>
                  ))}
                </p>
              )}
            </div>
          </div>
          <Register key={latest} subject={s} type={schemaB?.type ?? "AVRO"} initial={schemaB ? prettySchema(schemaB.schema) : ""} onDone={() => reload()} />
        </>
      )}
    </div>
  );
}
