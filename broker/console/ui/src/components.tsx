// Small shared pieces: the error banner, stat cards, the sparkline, a
// two-step delete button.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { clearErrors, useErrors } from "./errors";

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

export function Stat(props: { label: string; testid?: string; value: ComponentChildren; warn?: boolean; hint?: string }) {
  return (
    <div class={"stat" + (props.warn ? " warn" : "")} title={props.hint}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value" data-testid={props.testid}>
        {props.value}
      </div>
    </div>
  );
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

export function Empty(props: { children: ComponentChildren; testid?: string }) {
  return (
    <p class="empty" data-testid={props.testid}>
      {props.children}
    </p>
  );
}

// Sparkline draws values (oldest first) as a line over a filled area,
// scaled to the largest value.
export function Sparkline(props: { values: number[]; testid?: string; width?: number; height?: number; title: string }) {
  const w = props.width ?? 320;
  const h = props.height ?? 48;
  const vs = props.values;
  const max = Math.max(0, ...vs);
  const n = vs.length;
  const x = (i: number) => (n <= 1 ? w : (i / (n - 1)) * w);
  const y = (v: number) => (max === 0 ? h - 1 : h - 1 - (v / max) * (h - 4));
  const line = vs.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
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
  );
}

// ConfirmButton asks "sure?" in place instead of a window.confirm dialog.
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => void; testid?: string; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button class="danger small" data-testid={props.testid} disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm">
      <button
        class="danger small"
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
  return (
    <div class="tabs" role="tablist">
      {props.tabs.map(([id, label]) => (
        <button
          key={id}
          role="tab"
          aria-selected={props.active === id}
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
