// Topic (#/topics/{topic}): message count, throughput sparkline and the tabs
// Messages, Produce, Partitions and Configs.
import { useMemo, useState } from "preact/hooks";
import { api, type ConfigEntry, enc, type PartitionInfo, type Throughput, type TopicDetail, usePoll } from "../api";
import { Badge, Empty, Loading, Sparkline, Stat, Tabs } from "../components";
import { reportError } from "../errors";
import { bytes, count, rate } from "../format";
import { initialBrowse, MessageBrowser, ProduceForm } from "./messages";

export function TopicPage(props: { topic: string }) {
  const t = props.topic;
  const { data, status, reload } = usePoll<TopicDetail>(`/api/topics/${enc(t)}`, true, { notFoundOnPage: true });
  const missing = !data && status === 404;
  const { data: tp } = usePoll<Throughput>(missing ? null : `/api/topics/${enc(t)}/throughput`, true, { notFoundOnPage: true });
  const [tab, setTab] = useState("messages");
  const [browse, setBrowse] = useState(() => initialBrowse(t));
  const points = tp?.points ?? [];
  const lastPoint = points.length > 0 ? points[points.length - 1] : undefined;
  const hws = useMemo(() => {
    if (!data) return undefined;
    const m: Record<string, number> = {};
    for (const p of data.partitions) m[String(p.partition)] = p.high_watermark;
    return m;
  }, [data]);
  const urp = data ? data.partitions.filter((p) => p.isr.length < p.replicas.length).length : 0;
  if (missing) {
    return (
      <div>
        <p class="crumbs">
          <a href="#/topics">Topics</a> /
        </p>
        <h1 data-testid="topic-title">{t}</h1>
        <Empty testid="topic-not-found">
          <p>
            <strong>There is no topic named “{t}”.</strong> It may have been deleted, or the name is misspelt.
          </p>
          <p>
            <a href="#/topics">All topics</a> · create it there with <em>Create topic</em>.
          </p>
        </Empty>
      </div>
    );
  }
  return (
    <div>
      <p class="crumbs">
        <a href="#/topics">Topics</a> /
      </p>
      <h1 data-testid="topic-title">{t}</h1>
      <div class="stats">
        <Stat label="Messages" testid="topic-messages-count" value={data ? count(data.messages) : "…"} hint="records between the log start and the high watermark, summed over the partitions" />
        <Stat label="Size" value={data ? bytes(data.size_bytes) : "…"} />
        <Stat label="Partitions" value={data ? count(data.partitions.length) : "…"} />
        {urp > 0 && <Stat label="Under-replicated" value={count(urp)} warn hint="partitions whose in-sync replicas are fewer than their replicas" />}
        <div class="stat wide">
          <div class="stat-label">
            Records in per second
            {lastPoint && (
              <span>
                {" "}
                · now {rate(lastPoint.records_in_per_sec)} · bytes in {rate(lastPoint.bytes_in_per_sec, "B")} · bytes out {rate(lastPoint.bytes_out_per_sec, "B")}
              </span>
            )}
          </div>
          <Sparkline
            values={points.map((p) => p.records_in_per_sec)}
            testid="topic-sparkline"
            title={`records in per second, last ${points.length} samples`}
            format={(v) => rate(v)}
            intervalMs={tp?.interval_ms}
          />
        </div>
      </div>
      <Tabs
        tabs={[
          ["messages", "Messages"],
          ["produce", "Produce"],
          ["partitions", "Partitions"],
          ["configs", "Configs"],
        ]}
        active={tab}
        onSelect={setTab}
      />
      <div class="tab-body" id="tab-panel" role="tabpanel" aria-labelledby={"tab-" + tab}>
        {tab === "messages" && <MessageBrowser topic={t} state={browse} setState={setBrowse} hws={hws} />}
        {tab === "produce" && <ProduceForm topic={t} partitions={data?.partitions.length} onProduced={reload} />}
        {tab === "partitions" && (data ? <Partitions parts={data.partitions} /> : <Loading />)}
        {tab === "configs" && (data ? <Configs topic={t} configs={data.configs} reload={reload} /> : <Loading />)}
      </div>
    </div>
  );
}

// sourceText names a config source (Kafka's ConfigSource) in words.
function sourceText(source: string): string {
  switch (source.toUpperCase()) {
    case "DYNAMIC_TOPIC_CONFIG":
      return "set on this topic";
    case "DYNAMIC_BROKER_CONFIG":
      return "broker (dynamic)";
    case "DYNAMIC_DEFAULT_BROKER_CONFIG":
      return "cluster default (dynamic)";
    case "STATIC_BROKER_CONFIG":
      return "broker config";
    case "DEFAULT_CONFIG":
      return "default";
  }
  return source.toLowerCase().replace(/_/g, " ");
}

// configHint reads a duration (*.ms) or size (*.bytes) config value as
// people say it: 604800000 → "7 d", 1073741824 → "1.00 GiB"; -1 → "no limit".
export function configHint(name: string, value: string | null): string | undefined {
  if (value === null || !/^-?\d+$/.test(value)) return undefined;
  const n = Number(value);
  // Long.MAX_VALUE (and near it): Kafka's "unlimited".
  if (n >= Number.MAX_SAFE_INTEGER) return "no limit";
  const isMs = name.endsWith(".ms");
  const isBytes = name.endsWith(".bytes");
  if (!isMs && !isBytes) return undefined;
  if (n < 0) return "no limit";
  if (isBytes) return n >= 1024 ? bytes(n) : undefined;
  if (n < 1000) return undefined;
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  for (const [ms, u] of units) {
    if (n >= ms && n % ms === 0) return `${count(n / ms)} ${u}`;
  }
  return `${(n / 1000).toFixed(1)} s`;
}

function offline(p: PartitionInfo): boolean {
  return Array.isArray(p.offline) ? p.offline.length > 0 : !!p.offline;
}

function Partitions(props: { parts: PartitionInfo[] }) {
  return (
    <div class="table-wrap">
      <table data-testid="partitions-table">
        <thead>
          <tr>
            <th class="num">Partition</th>
            <th class="num">Leader</th>
            <th class="num" title="leader epoch">
              Epoch
            </th>
            <th>Replicas</th>
            <th title="in-sync replicas">ISR</th>
            <th class="num">Log start</th>
            <th class="num" title="the offset the next record gets; consumers read up to it">
              High watermark
            </th>
            <th class="num">Messages</th>
            <th class="num">Size</th>
          </tr>
        </thead>
        <tbody>
          {[...props.parts]
            .sort((a, b) => a.partition - b.partition)
            .map((p) => (
              <tr key={p.partition} data-testid="partition-row" data-partition={p.partition} class={p.isr.length < p.replicas.length || offline(p) ? "warn-row" : ""}>
                <td class="num">{p.partition}</td>
                <td class="num" data-testid="partition-leader">
                  {p.leader < 0 ? <Badge kind="bad">none</Badge> : p.leader}
                </td>
                <td class="num">{p.leader_epoch}</td>
                <td>
                  {p.replicas.join(", ")} {offline(p) && <Badge kind="bad">offline: {Array.isArray(p.offline) ? p.offline.join(", ") : "yes"}</Badge>}
                </td>
                <td class={p.isr.length < p.replicas.length ? "warn-text" : ""}>
                  {p.isr.join(", ")} {p.isr.length < p.replicas.length && <Badge kind="warn">under-replicated</Badge>}
                </td>
                <td class="num">{p.log_start}</td>
                <td class="num" data-testid="partition-hw">
                  {p.high_watermark}
                </td>
                <td class="num">{count(p.high_watermark - p.log_start)}</td>
                <td class="num">{bytes(p.size_bytes)}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}

function Configs(props: { topic: string; configs: ConfigEntry[]; reload: () => void }) {
  const [editing, setEditing] = useState<Record<string, string>>({});
  const [showDefaults, setShowDefaults] = useState(true);
  const [newName, setNewName] = useState("");
  const [newValue, setNewValue] = useState("");
  const stopEditing = (name: string) =>
    setEditing((e) => {
      const n = { ...e };
      delete n[name];
      return n;
    });
  const put = async (name: string, value: string | null) => {
    try {
      await api(`/api/topics/${enc(props.topic)}/configs`, { method: "PUT", body: { [name]: value } });
      reportError("topic-config", undefined);
      stopEditing(name);
      props.reload();
      return true;
    } catch (err) {
      reportError("topic-config", `setting ${name}: ${(err as Error).message}`);
      return false;
    }
  };
  // Overrides first: they are what makes this topic differ from the rest.
  const rows = [...props.configs]
    .filter((c) => showDefaults || !c.default)
    .sort((a, b) => Number(a.default) - Number(b.default) || a.name.localeCompare(b.name));
  return (
    <div>
      <div class="toolbar">
        <label class="check">
          <input type="checkbox" checked={showDefaults} onChange={(e) => setShowDefaults(e.currentTarget.checked)} /> show defaults
        </label>
        <span class="muted small">Set a config below, or edit one in the table; Reset removes the topic's override.</span>
      </div>
      <form
        class="inline-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (newName.trim() !== "" && (await put(newName.trim(), newValue))) {
            setNewName("");
            setNewValue("");
          }
        }}
      >
        <input placeholder="config name" aria-label="config name" value={newName} data-testid="config-new-name" onInput={(e) => setNewName(e.currentTarget.value)} list="config-names" />
        <datalist id="config-names">
          {props.configs.map((c) => (
            <option key={c.name} value={c.name} />
          ))}
        </datalist>
        <input placeholder="value" aria-label="config value" value={newValue} data-testid="config-new-value" onInput={(e) => setNewValue(e.currentTarget.value)} />
        <button type="submit" data-testid="config-new-submit">
          Set
        </button>
      </form>
      {rows.length === 0 ? (
        <Empty>No configs.</Empty>
      ) : (
        <div class="table-wrap">
          <table data-testid="configs-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Value</th>
                <th>Source</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => {
                const draft = editing[c.name];
                return (
                  <tr key={c.name} data-testid="config-row" data-config={c.name} class={c.default ? "muted-row" : ""}>
                    <td>
                      <code>{c.name}</code>
                    </td>
                    <td class="config-value">
                      {draft !== undefined ? (
                        <input
                          value={draft}
                          aria-label={`value of ${c.name}`}
                          data-testid="config-edit-value"
                          onInput={(e) => {
                            const v = e.currentTarget.value;
                            setEditing((x) => ({ ...x, [c.name]: v }));
                          }}
                          onKeyDown={(e) => {
                            if (e.key === "Enter") put(c.name, draft);
                            if (e.key === "Escape") stopEditing(c.name);
                          }}
                        />
                      ) : c.sensitive ? (
                        <span class="muted">(sensitive)</span>
                      ) : (
                        <>
                          <span data-testid="config-value">{c.value ?? <span class="muted">null</span>}</span>
                          {configHint(c.name, c.value) && <span class="muted small"> ({configHint(c.name, c.value)})</span>}
                        </>
                      )}
                    </td>
                    <td>
                      {c.default ? <span class="muted">{sourceText(c.source)}</span> : <Badge kind="info">{sourceText(c.source)}</Badge>} {c.read_only && <Badge>read-only</Badge>}
                    </td>
                    <td class="actions">
                      {!c.read_only &&
                        (draft !== undefined ? (
                          <>
                            <button class="small primary" data-testid="config-save" onClick={() => put(c.name, draft)}>
                              Save
                            </button>{" "}
                            <button class="small" onClick={() => stopEditing(c.name)}>
                              Cancel
                            </button>
                          </>
                        ) : (
                          <>
                            <button class="small" data-testid="config-edit" onClick={() => setEditing((x) => ({ ...x, [c.name]: c.value ?? "" }))}>
                              Edit
                            </button>{" "}
                            {!c.default && (
                              <button class="small" data-testid="config-reset" title="Delete the override" onClick={() => put(c.name, null)}>
                                Reset
                              </button>
                            )}
                          </>
                        ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
