// Overview (#/): the brokers, partition health and cluster throughput.
import { useEffect, useRef, useState } from "preact/hooks";
import { type Overview, usePoll } from "../api";
import { Badge, Loading, Sparkline, Stat } from "../components";
import { count, rate } from "../format";

const historyLen = 150;

export function OverviewPage() {
  const { data } = usePoll<Overview>("/api/overview");
  // The overview answers with the current rates only; the sparkline is the
  // history of what this page has polled.
  const [history, setHistory] = useState<number[]>([]);
  const last = useRef<Overview | undefined>(undefined);
  useEffect(() => {
    if (!data || data === last.current) return;
    last.current = data;
    setHistory((h) => [...h, data.records_in_per_sec].slice(-historyLen));
  }, [data]);
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
          <div class="stats">
            <Stat label="Brokers" testid="overview-brokers" value={count(data.brokers.length)} />
            <Stat label="Topics" testid="overview-topics" value={count(data.topics)} hint={`${data.internal_topics} internal topics besides`} />
            <Stat label="Partitions" testid="overview-partitions" value={count(data.partitions)} />
            <Stat label="Under-replicated" testid="overview-under-replicated" value={count(data.under_replicated)} warn={data.under_replicated > 0} />
            <Stat label="Offline" testid="overview-offline" value={count(data.offline)} warn={data.offline > 0} />
          </div>
          <h2>Throughput</h2>
          <div class="stats">
            <Stat label="Records in" testid="overview-records-in" value={rate(data.records_in_per_sec)} />
            <Stat label="Bytes in" testid="overview-bytes-in" value={rate(data.bytes_in_per_sec, "B")} />
            <Stat label="Bytes out" testid="overview-bytes-out" value={rate(data.bytes_out_per_sec, "B")} />
            <div class="stat wide">
              <div class="stat-label">Records in/s since this page opened</div>
              <Sparkline values={history} testid="overview-sparkline" title="records in per second" />
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
                      {data.leaders_by_broker?.[String(b.id)] ?? b.leaders}
                    </td>
                    <td class="num">{b.replicas}</td>
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
