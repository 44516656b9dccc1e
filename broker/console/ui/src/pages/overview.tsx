// Overview (#/): the brokers, partition health and cluster throughput.
import { useEffect, useRef, useState } from "preact/hooks";
import { enc, type Overview, REFRESH_MS, type TopicSummary, usePoll } from "../api";
import { Badge, CopyButton, Loading, Sparkline, Stat } from "../components";
import { count, rate } from "../format";
import { NoTopics } from "./topics";

const historyLen = 150;

export function OverviewPage() {
  const { data } = usePoll<Overview>("/api/overview");
  // The topics, for the under-replicated ones by name (and whether there are
  // any at all).
  const { data: topics } = usePoll<TopicSummary[]>("/api/topics");
  // The overview answers with the current rates only; the sparkline is the
  // history of what this page has polled.
  const [history, setHistory] = useState<number[]>([]);
  const last = useRef<Overview | undefined>(undefined);
  useEffect(() => {
    if (!data || data === last.current) return;
    last.current = data;
    setHistory((h) => [...h, data.records_in_per_sec].slice(-historyLen));
  }, [data]);
  const urp = (topics ?? []).filter((t) => t.under_replicated > 0).sort((a, b) => b.under_replicated - a.under_replicated);
  const bootstrap = (data?.brokers ?? []).map((b) => `${b.host}:${b.port}`).join(",");
  return (
    <div>
      <h1>Overview</h1>
      {!data ? (
        <Loading />
      ) : (
        <>
          <p class="muted">
            Cluster <code>{data.cluster_id}</code> · controller {data.controller_id} · Moldau {data.version}
            {" · "}
            <Badge kind={data.schema_registry ? "ok" : ""}>schema registry {data.schema_registry ? "on" : "off"}</Badge>{" "}
            <Badge kind={data.sasl ? "ok" : ""}>SASL {data.sasl ? "on" : "off"}</Badge>{" "}
            <Badge kind={data.authorizer ? "ok" : ""}>ACLs {data.authorizer ? "on" : "off"}</Badge>
          </p>
          <div class="bootstrap">
            <span class="muted">Bootstrap servers:</span>
            <code data-testid="overview-bootstrap">{bootstrap}</code>
            <CopyButton text={bootstrap} what="the bootstrap servers" />
          </div>
          <div class="stats">
            <Stat label="Brokers" testid="overview-brokers" value={count(data.brokers.length)} />
            <Stat label="Topics" testid="overview-topics" value={count(data.topics)} hint={`${data.internal_topics} internal topics besides`} />
            <Stat label="Partitions" testid="overview-partitions" value={count(data.partitions)} />
            <Stat
              label="Under-replicated"
              testid="overview-under-replicated"
              value={count(data.under_replicated)}
              warn={data.under_replicated > 0}
              good={data.under_replicated === 0 && data.partitions > 0}
              hint="partitions whose in-sync replicas are fewer than their replicas: a broker is down or behind"
              note={data.under_replicated > 0 ? "partitions at risk" : data.partitions > 0 ? "all in sync" : undefined}
            />
            <Stat
              label="Offline"
              testid="overview-offline"
              value={count(data.offline)}
              bad={data.offline > 0}
              hint="partitions without a leader: nobody can produce to or consume from them"
              note={data.offline > 0 ? "no leader" : undefined}
            />
          </div>
          {urp.length > 0 && (
            <div class="warn-box" data-testid="overview-urp-list" role="status">
              <strong>
                {count(urp.length)} topic{urp.length === 1 ? " has" : "s have"} under-replicated partitions:
              </strong>
              <ul>
                {urp.slice(0, 10).map((t) => (
                  <li key={t.name}>
                    <a href={`#/topics/${enc(t.name)}`}>{t.name}</a>: {count(t.under_replicated)} of {count(t.partitions)} partitions
                  </li>
                ))}
                {urp.length > 10 && <li>and {count(urp.length - 10)} more</li>}
              </ul>
            </div>
          )}
          {topics && topics.filter((t) => !t.internal).length === 0 && <NoTopics />}
          <h2>Throughput</h2>
          <div class="stats">
            <Stat label="Records in" testid="overview-records-in" value={rate(data.records_in_per_sec)} />
            <Stat label="Bytes in" testid="overview-bytes-in" value={rate(data.bytes_in_per_sec, "B")} />
            <Stat label="Bytes out" testid="overview-bytes-out" value={rate(data.bytes_out_per_sec, "B")} />
            <div class="stat wide">
              <div class="stat-label">Records in per second, since this page opened</div>
              <Sparkline values={history} testid="overview-sparkline" title="records in per second" format={(v) => rate(v)} intervalMs={REFRESH_MS} />
            </div>
          </div>
          <h2>Brokers</h2>
          <div class="table-wrap">
            <table data-testid="brokers-table">
              <thead>
                <tr>
                  <th>ID</th>
                  <th>Host</th>
                  <th>Rack</th>
                  <th class="num">Leaders</th>
                  <th class="num">Replicas</th>
                </tr>
              </thead>
              <tbody>
                {data.brokers.map((b) => (
                  <tr key={b.id} data-testid="broker-row" data-broker={b.id}>
                    <td>
                      {b.id} {b.controller && <Badge kind="info">controller</Badge>}
                    </td>
                    <td>
                      <code>
                        {b.host}:{b.port}
                      </code>
                    </td>
                    <td>{b.rack ?? <span class="muted">–</span>}</td>
                    <td class="num" data-testid="broker-leaders">
                      {count(data.leaders_by_broker?.[String(b.id)] ?? b.leaders)}
                    </td>
                    <td class="num">{count(b.replicas)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}
