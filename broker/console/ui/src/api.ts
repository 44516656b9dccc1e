// The console's JSON API (broker/console/API.md): typed shapes, a fetch
// wrapper that turns {"error": ...} answers into ApiError, and the polling
// hook every page uses to refresh itself.
import { useEffect, useRef, useState } from "preact/hooks";
import { reportError } from "./errors";

export const REFRESH_MS = 2000;

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

export async function api<T>(path: string, init?: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<T> {
  const opts: RequestInit = { method: init?.method ?? "GET", signal: init?.signal, headers: { Accept: "application/json" } };
  if (init?.body !== undefined) {
    opts.body = JSON.stringify(init.body);
    opts.headers = { Accept: "application/json", "Content-Type": "application/json" };
  }
  let res: Response;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach the console (is moldau still running?): ${(e as Error).message}`);
  }
  const text = await res.text();
  let body: unknown = undefined;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      if (!res.ok) throw new ApiError(res.status, `${res.status} ${res.statusText}: ${text.slice(0, 200)}`);
      throw new ApiError(res.status, `invalid JSON from ${path}`);
    }
  }
  if (!res.ok) {
    const msg = body && typeof body === "object" && "error" in body ? String((body as { error: unknown }).error) : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, msg);
  }
  return body as T;
}

export const enc = encodeURIComponent;

// unreachable is the error banner's source for "the console does not answer".
const unreachable = "console-unreachable";

export interface Poll<T> {
  data: T | undefined;
  error: string | undefined;
  // status is the HTTP status of the last failure (0: the console was
  // unreachable), undefined after a success.
  status: number | undefined;
  reload: () => void;
}

export interface PollOptions {
  // notFoundOnPage: a 404 is shown by the page itself ("topic x does not
  // exist"), not in the error banner.
  notFoundOnPage?: boolean;
}

// usePoll fetches path now and then every REFRESH_MS (the next request starts
// when the previous one has answered, so a slow broker never piles requests
// up), skipping refreshes while the page is hidden. Changing path drops the
// old data; unmounting aborts the request in flight. A failure goes to the
// error banner until the next success. A null path fetches nothing;
// enabled=false fetches once and then only on reload.
export function usePoll<T>(path: string | null, enabled = true, opts: PollOptions = {}): Poll<T> {
  const [state, setState] = useState<{ path: string | null; data?: T; error?: string; status?: number }>({ path });
  const notFoundOnPage = !!opts.notFoundOnPage;
  const kick = useRef<() => void>(() => {});
  useEffect(() => {
    if (path === null) return;
    const ctrl = new AbortController();
    let timer: number | undefined;
    let stopped = false;
    // again: a reload was asked for while a request was in flight (whose
    // answer may predate what the reload wants to see).
    let again = false;
    let inFlight = false;
    let first = true;
    const run = async () => {
      timer = undefined;
      again = false;
      if (stopped) return;
      if (document.hidden && !first && enabled) {
        // Nobody looks: ask again when the page is visible (below).
        timer = window.setTimeout(run, REFRESH_MS);
        return;
      }
      first = false;
      inFlight = true;
      try {
        const data = await api<T>(path, { signal: ctrl.signal });
        if (stopped) return;
        setState({ path, data });
        reportError(path, undefined);
        reportError(unreachable, undefined);
      } catch (e) {
        if (stopped || (e as Error).name === "AbortError") return;
        const msg = (e as Error).message;
        const status = e instanceof ApiError ? e.status : 0;
        setState((s) => ({ path, data: s.path === path ? s.data : undefined, error: msg, status }));
        if (status === 0) {
          // One line for all the page's requests: the console is gone, not
          // one of its answers wrong.
          reportError(unreachable, `Cannot reach the console at ${location.host}: is moldau still running? Retrying every ${REFRESH_MS / 1000} s.`);
        } else {
          reportError(path, notFoundOnPage && status === 404 ? undefined : `${path}: ${msg}`);
        }
      }
      inFlight = false;
      if (!stopped && (enabled || again)) timer = window.setTimeout(run, again ? 0 : REFRESH_MS);
    };
    kick.current = () => {
      if (stopped) return;
      if (inFlight) {
        again = true;
        return;
      }
      if (timer !== undefined) clearTimeout(timer);
      run();
    };
    const onVisible = () => {
      if (!document.hidden && enabled) kick.current();
    };
    document.addEventListener("visibilitychange", onVisible);
    run();
    return () => {
      document.removeEventListener("visibilitychange", onVisible);
      stopped = true;
      ctrl.abort();
      if (timer !== undefined) clearTimeout(timer);
      reportError(path, undefined);
    };
  }, [path, enabled, notFoundOnPage]);
  const fresh = state.path === path;
  return {
    data: fresh ? state.data : undefined,
    error: fresh ? state.error : undefined,
    status: fresh ? state.status : undefined,
    reload: () => kick.current(),
  };
}

// Shapes (API.md).
export interface Broker { id: number; host: string; port: number; rack: string | null; controller: boolean; leaders: number; replicas: number }
export interface Overview {
  cluster_id: string; controller_id: number; version: string; brokers: Broker[];
  topics: number; internal_topics: number; partitions: number; under_replicated: number; offline: number;
  leaders_by_broker: Record<string, number>; schema_registry: boolean; sasl: boolean; authorizer: boolean;
  bytes_in_per_sec: number; bytes_out_per_sec: number; records_in_per_sec: number;
}
export interface TopicSummary {
  name: string; internal: boolean; partitions: number; replication_factor: number; size_bytes: number;
  messages: number; under_replicated: number; bytes_in_per_sec: number; records_in_per_sec: number;
}
export interface PartitionInfo {
  partition: number; leader: number; leader_epoch: number; replicas: number[]; isr: number[]; offline: boolean | number[];
  log_start: number; high_watermark: number; size_bytes: number;
}
export interface ConfigEntry { name: string; value: string | null; source: string; sensitive: boolean; read_only: boolean; default: boolean }
export interface TopicDetail { name: string; internal: boolean; size_bytes: number; messages: number; partitions: PartitionInfo[]; configs: ConfigEntry[] }
export interface ThroughputPoint { t: number; bytes_in_per_sec: number; records_in_per_sec: number; bytes_out_per_sec: number }
export interface Throughput { interval_ms: number; points: ThroughputPoint[] }
export interface Decoded { format: string; schema_id?: number; subject?: string; value: unknown; error?: string; size: number }
export interface Header { key: string; value: string | null; value_base64?: string }
export interface Message {
  partition: number; offset: number; timestamp: number; timestamp_type?: string;
  key: Decoded | null; value: Decoded | null; headers: Header[]; size: number;
}
export interface Messages { messages: Message[]; scanned: number; high_watermarks: Record<string, number> }
export interface ProduceResult { partition: number; offset: number; timestamp: number }
export interface GroupSummary { group_id: string; type: string; state: string; protocol_type: string; protocol: string; members: number; coordinator: number; lag: number }
export interface GroupMember { member_id: string; instance_id: string | null; client_id: string; host: string; assignments: { topic: string; partitions: number[] }[] }
export interface GroupOffset { topic: string; partition: number; committed: number; log_end: number; lag: number; member_id: string | null }
export interface GroupDetail {
  group_id: string; type: string; state: string; protocol_type: string; protocol: string; coordinator: number;
  members: GroupMember[]; offsets: GroupOffset[]; lag: number;
}
export interface ResetResult { offsets: { topic: string; partition: number; offset: number }[] }
export interface SubjectSummary { subject: string; latest_version: number; id: number; type: string; compatibility: string }
export interface Schemas { enabled: boolean; compatibility: string; mode: string; subjects: SubjectSummary[] }
export interface SchemaVersion { version: number; id: number; type: string; schema: string; references: { name: string; subject: string; version: number }[] }
export interface SubjectDetail { subject: string; compatibility: string; versions: SchemaVersion[] }
export interface Acl { resource_type: string; resource_name: string; pattern_type: string; principal: string; host: string; operation: string; permission: string }
export interface Acls { enabled: boolean; acls: Acl[] }
export interface Users { users: { user: string; mechanisms: { mechanism: string; iterations: number }[] }[] }
