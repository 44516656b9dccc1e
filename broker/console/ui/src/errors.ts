// The error banner's store: each source (a polled path, a form) reports its
// current error or undefined; the banner shows every current one.
import { useEffect, useState } from "preact/hooks";

const current = new Map<string, string>();
const listeners = new Set<() => void>();

export function reportError(source: string, message: string | undefined) {
  if (message === undefined) {
    if (!current.delete(source)) return;
  } else {
    if (current.get(source) === message) return;
    current.set(source, message);
  }
  listeners.forEach((l) => l());
}

export function clearErrors() {
  if (current.size === 0) return;
  current.clear();
  listeners.forEach((l) => l());
}

export function useErrors(): [string, string][] {
  const [, setN] = useState(0);
  useEffect(() => {
    const l = () => setN((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return [...current.entries()];
}
