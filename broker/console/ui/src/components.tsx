// Small shared pieces: the error banner, stat cards, the sparkline, a
// two-step delete button, copy buttons and command snippets.
import { type ComponentChildren, Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Overview, usePoll } from "./api";
import { clearErrors, useErrors } from "./errors";
import { breakable, duration } from "./format";

export function ErrorBanner() {
  const errors = useErrors();
  if (errors.length === 0) return null;
  return (
    <div class="error-banner" data-testid="error-banner" role="alert">
      <button class="close" title="Dismiss" aria-label="Dismiss" onClick={clearErrors}>
        ×
      </button>
      {errors.map(([source, msg]) => (
        <div key={source}>{msg}</div>
      ))}
    </div>
  );
}

export function Stat(props: { label: string; testid?: string; value: ComponentChildren; warn?: boolean; bad?: boolean; good?: boolean; hint?: string; note?: ComponentChildren }) {
  const kind = props.bad ? " bad" : props.warn ? " warn" : props.good ? " good" : "";
  return (
    <div class={"stat" + kind} title={props.hint}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value" data-testid={props.testid}>
        {props.value}
      </div>
      {props.note && <div class="stat-note">{props.note}</div>}
    </div>
  );
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

export function Empty(props: { children: ComponentChildren; testid?: string }) {
  return (
    <div class="empty" data-testid={props.testid}>
      {props.children}
    </div>
  );
}

// useNow re-renders every everyMs and returns the current time (for
// "5 s ago" texts that must age while nothing else changes).
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

// copyText puts text on the clipboard: the Clipboard API where the page is
// a secure context (https, localhost, 127.0.0.1), else a selected
// off-screen textarea and execCommand.
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the textarea
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.className = "offscreen";
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

// CopyButton copies text and says so for a moment.
export function CopyButton(props: { text: string; label?: string; testid?: string; what?: string }) {
  const [state, setState] = useState<"idle" | "ok" | "fail">("idle");
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const label = props.label ?? "Copy";
  return (
    <button
      type="button"
      class="small copy"
      data-testid={props.testid}
      aria-label={props.what ? `Copy ${props.what}` : label}
      title={props.what ? `Copy ${props.what} to the clipboard` : "Copy to the clipboard"}
      onClick={async () => {
        const ok = await copyText(props.text);
        setState(ok ? "ok" : "fail");
        clearTimeout(timer.current);
        timer.current = window.setTimeout(() => setState("idle"), 1500);
      }}
    >
      {state === "ok" ? "Copied" : state === "fail" ? "Copy failed" : label}
    </button>
  );
}

// Cmd is a shell command to copy: the newcomer's way to try a thing.
export function Cmd(props: { children: string; testid?: string }) {
  return (
    <div class="cmd">
      <code data-testid={props.testid}>{props.children}</code>
      <CopyButton text={props.children} what="the command" />
    </div>
  );
}

// useBootstrap is the address clients connect to: the first broker's
// advertised host:port ("localhost:9092" until the overview answers).
export function useBootstrap(): string {
  const { data } = usePoll<Overview>("/api/overview", false);
  const b = data?.brokers?.[0];
  return b ? `${b.host}:${b.port}` : "localhost:9092";
}

// Sparkline draws values (oldest first) as a line over a filled area,
// scaled to the largest value, with its scale (the largest value, the time
// span) written beside it.
export function Sparkline(props: {
  values: number[];
  testid?: string;
  width?: number;
  height?: number;
  title: string;
  // format writes a value of the scale ("12/s").
  format?: (v: number) => string;
  // intervalMs is the time between two values: the span is labelled.
  intervalMs?: number;
}) {
  const w = props.width ?? 320;
  const h = props.height ?? 48;
  const vs = props.values;
  const max = Math.max(0, ...vs);
  const fmt = props.format ?? ((v: number) => String(v));
  const n = vs.length;
  const x = (i: number) => (n <= 1 ? w : (i / (n - 1)) * w);
  const y = (v: number) => (max === 0 ? h - 1 : h - 1 - (v / max) * (h - 4));
  const line = vs.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const span = props.intervalMs && n > 1 ? duration((n - 1) * props.intervalMs) : undefined;
  return (
    <div class="spark">
      <div class="spark-y" aria-hidden="true">
        <span>{n > 0 ? fmt(max) : ""}</span>
        <span>0</span>
      </div>
      <div class="spark-plot">
    <svg
      class="sparkline"
      data-testid={props.testid}
      viewBox={`0 0 ${w} ${h}`}
      width={w}
      height={h}
      preserveAspectRatio="none"
      role="img"
      aria-label={props.title}
      data-points={n}
    >
      <title>{props.title}</title>
      <line class="baseline" x1="0" y1={h - 0.5} x2={w} y2={h - 0.5} />
      {n > 1 && <polygon class="area" points={`0,${h} ${line} ${w},${h}`} />}
      {n > 1 && <polyline class="line" points={line} />}
      {n === 1 && <circle class="dot" cx={w - 2} cy={y(vs[0])} r="2" />}
    </svg>
        <div class="spark-x" aria-hidden="true">
          <span>{n === 0 ? "no samples yet" : span ? `${span} ago` : ""}</span>
          <span>now</span>
        </div>
      </div>
    </div>
  );
}

// ConfirmButton asks "sure?" in place instead of a window.confirm dialog.
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => void; testid?: string; disabled?: boolean; title?: string }) {
  const [asking, setAsking] = useState(false);
  // The confirming button takes the focus, so that a keyboard user can
  // answer at once (Enter) or leave (Tab to Cancel).
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button class="danger small" data-testid={props.testid} disabled={props.disabled} title={props.title} aria-label={props.title} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm">
      <button
        class="danger small"
        ref={confirmRef}
        data-testid={props.testid ? props.testid + "-confirm" : undefined}
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirm}
      </button>
      <button class="small" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function Badge(props: { children: ComponentChildren; kind?: string; testid?: string; title?: string }) {
  return (
    <span class={"badge " + (props.kind ?? "")} data-testid={props.testid} title={props.title}>
      {props.children}
    </span>
  );
}

export function Tabs(props: { tabs: [string, string][]; active: string; onSelect: (id: string) => void }) {
  // Arrow keys move between the tabs (WAI-ARIA's tabs pattern); only the
  // active tab is in the Tab order.
  const onKey = (e: KeyboardEvent) => {
    const i = props.tabs.findIndex(([id]) => id === props.active);
    let j = -1;
    if (e.key === "ArrowRight") j = (i + 1) % props.tabs.length;
    else if (e.key === "ArrowLeft") j = (i - 1 + props.tabs.length) % props.tabs.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = props.tabs.length - 1;
    if (j < 0) return;
    e.preventDefault();
    const id = props.tabs[j][0];
    props.onSelect(id);
    document.getElementById("tab-" + id)?.focus();
  };
  return (
    <div class="tabs" role="tablist" onKeyDown={onKey}>
      {props.tabs.map(([id, label]) => (
        <button
          key={id}
          id={"tab-" + id}
          role="tab"
          type="button"
          aria-selected={props.active === id}
          aria-controls="tab-panel"
          tabIndex={props.active === id ? 0 : -1}
          class={"tab" + (props.active === id ? " active" : "")}
          data-testid={"tab-" + id}
          onClick={() => props.onSelect(id)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

// Breakable writes a long name with line-break opportunities after its
// separators (<wbr>: no characters added, copying gives the name).
export function Breakable(props: { text: string }) {
  const parts = breakable(props.text);
  return (
    <>
      {parts.map((p, i) => (
        <Fragment key={i}>
          {p}
          {i < parts.length - 1 && <wbr />}
        </Fragment>
      ))}
    </>
  );
}
