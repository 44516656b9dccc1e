// Consumer groups (#/groups) and one group (#/groups/{group}): members,
// lag per partition, offset reset.
import { useState } from "preact/hooks";
import { api, enc, type GroupDetail, type GroupSummary, type ResetResult, usePoll } from "../api";
import { Badge, Breakable, Cmd, ConfirmButton, Empty, Loading, Stat, useBootstrap } from "../components";
import { reportError } from "../errors";
import { count, parseTime } from "../format";

function lagText(n: number | null | undefined): string {
  return n === null || n === undefined || n < 0 ? "unknown" : count(n);
}

// NoGroups says where consumer groups come from.
function NoGroups() {
  const bootstrap = useBootstrap();
  return (
    <Empty testid="groups-empty">
      <p>
        <strong>No consumer groups yet.</strong> A group appears when consumers with a <code>group.id</code> join it or commit offsets; this page then
        shows its members and how far behind the end of each partition it is (its lag).
      </p>
      <h3>Try one from a terminal</h3>
      <Cmd testid="groups-empty-kcat">{`kcat -b ${bootstrap} -G my-group my-topic`}</Cmd>
      <Cmd>{`kafka-console-consumer.sh --bootstrap-server ${bootstrap} --topic my-topic --group my-group --from-beginning`}</Cmd>
    </Empty>
  );
}

function stateKind(state: string): string {
  switch (state.toLowerCase()) {
    case "stable":
      return "ok";
    case "empty":
      return "";
    case "dead":
      return "bad";
    default:
      return "info";
  }
}

export function GroupsPage() {
  const { data } = usePoll<GroupSummary[]>("/api/groups");
  const [filter, setFilter] = useState("");
  const rows = (data ?? []).filter((g) => g.group_id.toLowerCase().includes(filter.toLowerCase())).sort((a, b) => a.group_id.localeCompare(b.group_id));
  return (
    <div>
      <h1>Consumer groups</h1>
      <div class="toolbar">
        <input type="search" placeholder="Filter groups" aria-label="Filter groups by id" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </div>
      {!data ? (
        <Loading />
      ) : data.length === 0 ? (
        <NoGroups />
      ) : rows.length === 0 ? (
        <Empty>No group matches “{filter}”.</Empty>
      ) : (
        <div class="table-wrap">
          <table data-testid="groups-table">
            <thead>
              <tr>
                <th>Group</th>
                <th>Type</th>
                <th>State</th>
                <th class="num">Members</th>
                <th>Protocol</th>
                <th class="num">Coordinator</th>
                <th class="num" title="records not yet consumed: the log end offset minus the committed offset, summed over the partitions">
                  Lag
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((g) => (
                <tr key={g.group_id} data-testid="group-row" data-group={g.group_id}>
                  <td class="name">
                    <a href={`#/groups/${enc(g.group_id)}`} data-testid="group-link">
                      <Breakable text={g.group_id} />
                    </a>
                  </td>
                  <td>{g.type}</td>
                  <td>
                    <Badge kind={stateKind(g.state)} testid="group-state">
                      {g.state}
                    </Badge>
                  </td>
                  <td class="num">{count(g.members)}</td>
                  <td>{[g.protocol_type, g.protocol].filter(Boolean).join(" / ") || <span class="muted">–</span>}</td>
                  <td class="num">{g.coordinator}</td>
                  <td class={"num" + (g.lag > 0 ? " warn-text" : "")} data-testid="group-lag">
                    {lagText(g.lag)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function GroupPage(props: { group: string }) {
  const g = props.group;
  const { data, error, status, reload } = usePoll<GroupDetail>(`/api/groups/${enc(g)}`, true, { notFoundOnPage: true });
  const [deleted, setDeleted] = useState(false);
  const del = async () => {
    try {
      await api(`/api/groups/${enc(g)}`, { method: "DELETE" });
      reportError("delete-group", undefined);
      setDeleted(true);
      location.hash = "#/groups";
    } catch (e) {
      reportError("delete-group", `deleting group ${g}: ${(e as Error).message}`);
    }
  };
  const offsets = [...(data?.offsets ?? [])].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return (
    <div>
      <p class="crumbs">
        <a href="#/groups">Consumer groups</a> /
      </p>
      <div class="page-head">
        <h1 data-testid="group-title">{g}</h1>
        {data && <ConfirmButton label="Delete group" confirm={`Delete ${g}`} testid="group-delete" title={data.members.length > 0 ? "Only an empty group can be deleted: stop its consumers first" : undefined} disabled={deleted || data.members.length > 0} onConfirm={del} />}
      </div>
      {!data ? (
        status === 404 ? (
          <Empty testid="group-not-found">
            <p>
              <strong>There is no consumer group “{g}”.</strong> It may have been deleted, or its offsets expired. <a href="#/groups">All groups</a>
            </p>
          </Empty>
        ) : error ? (
          <Empty>Could not load group {g}.</Empty>
        ) : (
          <Loading />
        )
      ) : (
        <>
          <div class="stats">
            <Stat
              label="State"
              value={
                <Badge kind={stateKind(data.state)} testid="group-state">
                  {data.state}
                </Badge>
              }
            />
            <Stat label="Total lag" testid="group-total-lag" value={lagText(data.lag)} warn={data.lag > 0} hint="records not yet consumed, summed over the partitions" note={data.lag === 0 ? "caught up" : data.lag > 0 ? "records behind" : undefined} />
            <Stat label="Members" value={count(data.members.length)} />
            <Stat label="Type" value={data.type} />
            <Stat label="Protocol" value={[data.protocol_type, data.protocol].filter(Boolean).join(" / ") || "–"} />
            <Stat label="Coordinator" value={String(data.coordinator)} />
          </div>
          <h2>Members</h2>
          {data.members.length === 0 ? (
            <Empty testid="group-no-members">No members: the group is empty.</Empty>
          ) : (
            <div class="table-wrap">
              <table data-testid="group-members-table">
                <thead>
                  <tr>
                    <th>Member</th>
                    <th>Client</th>
                    <th>Host</th>
                    <th>Assignment</th>
                  </tr>
                </thead>
                <tbody>
                  {data.members.map((m) => (
                    <tr key={m.member_id} data-testid="group-member-row" data-member={m.member_id}>
                      <td>
                        <code class="wrap">{m.member_id}</code>
                        {m.instance_id && <div class="small muted">instance {m.instance_id}</div>}
                      </td>
                      <td>{m.client_id}</td>
                      <td>{m.host}</td>
                      <td>
                        {m.assignments.length === 0 ? (
                          <span class="muted">none</span>
                        ) : (
                          m.assignments.map((a) => (
                            <div key={a.topic}>
                              <a href={`#/topics/${enc(a.topic)}`}>{a.topic}</a>: {[...a.partitions].sort((x, y) => x - y).join(", ")}
                            </div>
                          ))
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h2>Lag</h2>
          {offsets.length === 0 ? (
            <Empty>No committed offsets.</Empty>
          ) : (
            <div class="table-wrap">
              <table data-testid="group-lag-table">
                <thead>
                  <tr>
                    <th>Topic</th>
                    <th class="num">Partition</th>
                    <th class="num" title="the offset the group will read next">
                      Committed
                    </th>
                    <th class="num" title="the partition's high watermark">
                      Log end
                    </th>
                    <th class="num">Lag</th>
                    <th>Member</th>
                  </tr>
                </thead>
                <tbody>
                  {offsets.map((o) => (
                    <tr key={`${o.topic}-${o.partition}`} data-testid="group-lag-row" data-topic={o.topic} data-partition={o.partition}>
                      <td>
                        <a href={`#/topics/${enc(o.topic)}`}>{o.topic}</a>
                      </td>
                      <td class="num">{o.partition}</td>
                      <td class="num">{o.committed < 0 ? "–" : o.committed}</td>
                      <td class="num">{o.log_end}</td>
                      <td class={"num" + (o.lag > 0 ? " warn-text" : "")} data-testid="lag-value">
                        {lagText(o.lag)}
                      </td>
                      <td class="small">{o.member_id ? <code class="wrap">{o.member_id}</code> : <span class="muted">–</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <ResetForm group={g} topics={[...new Set(offsets.map((o) => o.topic))]} hasMembers={data.members.length > 0} onDone={reload} />
        </>
      )}
    </div>
  );
}

function ResetForm(props: { group: string; topics: string[]; hasMembers: boolean; onDone: () => void }) {
  const [topic, setTopic] = useState("");
  const [to, setTo] = useState("earliest");
  const [offset, setOffset] = useState("");
  const [timestamp, setTimestamp] = useState("");
  const [partitions, setPartitions] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ResetResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const fail = (msg: string) => {
    setResult(undefined);
    setError(msg);
    reportError("reset-offsets", `resetting ${props.group}: ${msg}`);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = topic.trim() || (props.topics.length === 1 ? props.topics[0] : "");
    if (t === "") return fail("name the topic to reset");
    const body: Record<string, unknown> = { topic: t, to };
    if (partitions.trim() !== "") {
      const ps = partitions.split(",").map((p) => p.trim());
      if (ps.some((p) => !/^\d+$/.test(p))) return fail(`partitions "${partitions}" are not a comma-separated list of numbers`);
      body.partitions = ps.map(Number);
    }
    if (to === "offset") {
      if (!/^\d+$/.test(offset.trim())) return fail("to offset needs an offset");
      body.offset = Number(offset.trim());
    }
    if (to === "timestamp") {
      const ms = parseTime(timestamp);
      if (ms === undefined) return fail("to timestamp needs Unix milliseconds or a date");
      body.timestamp = ms;
    }
    setBusy(true);
    try {
      const r = await api<ResetResult>(`/api/groups/${enc(props.group)}/reset-offsets`, { method: "POST", body });
      setResult(r);
      setError(undefined);
      reportError("reset-offsets", undefined);
      props.onDone();
    } catch (err) {
      fail((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} data-testid="reset-form">
      <h2>Reset offsets</h2>
      <p class="muted small">Kafka resets the offsets of an empty group only: stop its consumers first.{props.hasMembers && <strong> This group has members.</strong>}</p>
      <div class="grid">
        <label>
          Topic
          <input data-testid="reset-topic" list="reset-topics" value={topic} placeholder={props.topics.length === 1 ? props.topics[0] : "topic"} onInput={(e) => setTopic(e.currentTarget.value)} />
          <datalist id="reset-topics">
            {props.topics.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          Partitions
          <input data-testid="reset-partitions" placeholder="all (or 0,1,2)" value={partitions} onInput={(e) => setPartitions(e.currentTarget.value)} />
        </label>
        <label>
          To
          <select data-testid="reset-to" value={to} onChange={(e) => setTo(e.currentTarget.value)}>
            <option value="earliest">earliest</option>
            <option value="latest">latest</option>
            <option value="offset">offset</option>
            <option value="timestamp">timestamp</option>
          </select>
        </label>
        <label class={to === "offset" ? "" : "dim"}>
          Offset
          <input data-testid="reset-offset" inputMode="numeric" value={offset} onInput={(e) => setOffset(e.currentTarget.value)} />
        </label>
        <label class={to === "timestamp" ? "" : "dim"}>
          Timestamp
          <input data-testid="reset-timestamp" placeholder="ms or 2024-01-31T12:00:00Z" value={timestamp} onInput={(e) => setTimestamp(e.currentTarget.value)} />
        </label>
      </div>
      <div class="buttons">
        <button type="submit" class="primary" data-testid="reset-submit" disabled={busy}>
          Reset offsets
        </button>
      </div>
      {result && (
        <div class="form-ok" data-testid="reset-result">
          Reset {result.offsets.length} partition{result.offsets.length === 1 ? "" : "s"}:{" "}
          {result.offsets
            .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
            .map((o) => `${o.topic}[${o.partition}] → ${o.offset}`)
            .join(", ")}
        </div>
      )}
      {error && (
        <p class="form-error" data-testid="reset-error">
          {error}
        </p>
      )}
    </form>
  );
}
