// Topics (#/topics): every topic with size, messages and rate; create and
// delete.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, enc, type Overview, type TopicSummary, usePoll } from "../api";
import { Badge, Breakable, Cmd, ConfirmButton, Empty, Loading, useBootstrap } from "../components";
import { reportError } from "../errors";
import { bytes, count, rate } from "../format";

// NoTopics is the first thing a newcomer sees on a fresh broker: how to
// make a topic, here or from a terminal.
export function NoTopics(props: { onCreate?: () => void }) {
  const bootstrap = useBootstrap();
  return (
    <Empty testid="topics-empty">
      <p>
        <strong>No topics yet.</strong> A topic is a named, partitioned log that producers append records to and consumers read from.{" "}
        {props.onCreate ? (
          <>
            <button type="button" class="small primary" onClick={props.onCreate}>
              Create a topic
            </button>{" "}
            here, or from a terminal:
          </>
        ) : (
          "Create one on the Topics page, or from a terminal:"
        )}
      </p>
      <h3>Kafka's command-line tools</h3>
      <Cmd testid="topics-empty-cli">{`kafka-topics.sh --bootstrap-server ${bootstrap} --create --topic my-topic --partitions 3`}</Cmd>
      <h3>kcat: produce a record, then read the topic</h3>
      <Cmd testid="topics-empty-kcat">{`echo 'hello, Moldau' | kcat -b ${bootstrap} -t my-topic -P`}</Cmd>
      <Cmd>{`kcat -b ${bootstrap} -t my-topic -C -e`}</Cmd>
      <p class="small">Producing to a topic that does not exist creates it when the broker allows it (auto.create.topics.enable).</p>
    </Empty>
  );
}

export function TopicsPage() {
  const { data, reload } = usePoll<TopicSummary[]>("/api/topics");
  const [filter, setFilter] = useState("");
  const [internal, setInternal] = useState(false);
  const [creating, setCreating] = useState(false);
  const del = async (name: string) => {
    try {
      await api(`/api/topics/${enc(name)}`, { method: "DELETE" });
      reportError("delete-topic", undefined);
      reload();
    } catch (e) {
      reportError("delete-topic", `deleting topic ${name}: ${(e as Error).message}`);
    }
  };
  const rows = (data ?? [])
    .filter((t) => (internal || !t.internal) && t.name.toLowerCase().includes(filter.toLowerCase()))
    .sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div>
      <div class="page-head">
        <h1>Topics</h1>
        <button class="primary" data-testid="create-topic-open" onClick={() => setCreating(!creating)}>
          Create topic
        </button>
      </div>
      {creating && (
        <CreateTopic
          onDone={() => {
            setCreating(false);
            reload();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      <div class="toolbar">
        <input type="search" placeholder="Filter topics" aria-label="Filter topics by name" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} data-testid="topics-filter" />
        <label class="check">
          <input type="checkbox" checked={internal} onChange={(e) => setInternal(e.currentTarget.checked)} /> show internal topics
        </label>
      </div>
      {!data ? (
        <Loading />
      ) : data.filter((t) => !t.internal).length === 0 && filter === "" && !internal ? (
        <NoTopics onCreate={creating ? undefined : () => setCreating(true)} />
      ) : rows.length === 0 ? (
        <Empty>No topic matches “{filter}”.</Empty>
      ) : (
        <div class="table-wrap">
          <table data-testid="topics-table">
            <thead>
              <tr>
                <th>Name</th>
                <th class="num">Partitions</th>
                <th class="num" title="replication factor: copies of each partition">
                  Replication
                </th>
                <th class="num">Messages</th>
                <th class="num">Size</th>
                <th class="num" title="records produced per second (the tooltip of a cell: bytes per second)">
                  Rate in
                </th>
                <th class="num wrap-head" title="partitions whose in-sync replicas are fewer than their replicas">
                  Under-replicated
                </th>
                <th>
                  <span class="offscreen">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr key={t.name} data-testid="topic-row" data-topic={t.name} class={t.under_replicated > 0 ? "warn-row" : ""}>
                  <td class="name">
                    <a href={`#/topics/${enc(t.name)}`} data-testid="topic-link">
                      <Breakable text={t.name} />
                    </a>{" "}
                    {t.internal && <Badge>internal</Badge>}
                    {t.name === "_schemas" && <Badge title="the schema registry keeps its schemas here: deleting it loses them">schema registry</Badge>}
                  </td>
                  <td class="num">{count(t.partitions)}</td>
                  <td class="num">{t.replication_factor}</td>
                  <td class="num" data-testid="topic-messages">
                    {count(t.messages)}
                  </td>
                  <td class="num">{bytes(t.size_bytes)}</td>
                  <td class="num" title={rate(t.bytes_in_per_sec, "B")}>
                    {rate(t.records_in_per_sec, "rec")}
                  </td>
                  <td class={"num" + (t.under_replicated > 0 ? " warn-text" : "")}>{t.under_replicated > 0 ? <Badge kind="warn">{count(t.under_replicated)}</Badge> : <span class="muted">0</span>}</td>
                  <td class="actions">{!t.internal && <ConfirmButton label="Delete" title={`Delete topic ${t.name}`} confirm={`Delete ${t.name}`} testid="topic-delete" onConfirm={() => del(t.name)} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function CreateTopic(props: { onDone: () => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [partitions, setPartitions] = useState("1");
  const [replication, setReplication] = useState("");
  const [configs, setConfigs] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  // The default replication factor: 3, or fewer when the cluster is smaller.
  const { data: overview } = usePoll<Overview>("/api/overview", false);
  const defaultRF = overview ? Math.min(3, Math.max(1, overview.brokers.length)) : 1;
  const nameRef = useRef<HTMLInputElement>(null);
  useEffect(() => nameRef.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const cfg: Record<string, string> = {};
    for (const line of configs.split("\n")) {
      const l = line.trim();
      if (l === "" || l.startsWith("#")) continue;
      const i = l.indexOf("=");
      if (i <= 0) {
        setError(`config line "${l}" is not name=value`);
        return;
      }
      cfg[l.slice(0, i).trim()] = l.slice(i + 1).trim();
    }
    setBusy(true);
    try {
      await api("/api/topics", {
        method: "POST",
        body: {
          name: name.trim(),
          partitions: Number(partitions || "1"),
          replication_factor: Number(replication || String(defaultRF)),
          configs: cfg,
        },
      });
      setError(undefined);
      reportError("create-topic", undefined);
      props.onDone();
    } catch (err) {
      const msg = (err as Error).message;
      setError(msg);
      reportError("create-topic", `creating topic ${name}: ${msg}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} data-testid="create-topic-form">
      <h2>New topic</h2>
      <div class="grid">
        <label>
          Name
          <input required data-testid="create-topic-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="orders" ref={nameRef} />
        </label>
        <label>
          Partitions
          <input type="number" min="1" data-testid="create-topic-partitions" value={partitions} onInput={(e) => setPartitions(e.currentTarget.value)} />
        </label>
        <label>
          Replication factor
          <input
            type="number"
            min="1"
            data-testid="create-topic-replication"
            value={replication}
            placeholder={String(defaultRF)}
            onInput={(e) => setReplication(e.currentTarget.value)}
          />
        </label>
      </div>
      <label>
        Configs (one name=value a line, optional)
        <textarea rows={2} data-testid="create-topic-configs" value={configs} placeholder="cleanup.policy=compact" onInput={(e) => setConfigs(e.currentTarget.value)} />
      </label>
      {error && (
        <p class="form-error" data-testid="create-topic-error">
          {error}
        </p>
      )}
      <div class="buttons">
        <button type="submit" class="primary" data-testid="create-topic-submit" disabled={busy}>
          Create
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
