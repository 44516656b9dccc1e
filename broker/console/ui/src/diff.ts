// A line diff by longest common subsequence (the schema page's version diff).

export interface DiffLine {
  op: "same" | "add" | "del";
  text: string;
  a?: number; // line number in a (1-based) for same and del
  b?: number; // line number in b for same and add
}

// Above this many cells the LCS table is not built: the diff degrades to
// "every line of a removed, every line of b added" after the common prefix
// and suffix.
const maxCells = 4_000_000;

export function lineDiff(aText: string, bText: string): DiffLine[] {
  const a = aText === "" ? [] : aText.split("\n");
  const b = bText === "" ? [] : bText.split("\n");
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const out: DiffLine[] = [];
  for (let i = 0; i < pre; i++) out.push({ op: "same", text: a[i], a: i + 1, b: i + 1 });
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const n = am.length;
  const m = bm.length;
  if ((n + 1) * (m + 1) > maxCells) {
    am.forEach((t, i) => out.push({ op: "del", text: t, a: pre + i + 1 }));
    bm.forEach((t, j) => out.push({ op: "add", text: t, b: pre + j + 1 }));
  } else {
    // lcs[i][j]: length of the LCS of am[i:] and bm[j:].
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = am[i] === bm[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        out.push({ op: "same", text: am[i], a: pre + i + 1, b: pre + j + 1 });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
        out.push({ op: "del", text: am[i], a: pre + i + 1 });
        i++;
      } else {
        out.push({ op: "add", text: bm[j], b: pre + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < suf; k++) {
    out.push({ op: "same", text: a[a.length - suf + k], a: a.length - suf + k + 1, b: b.length - suf + k + 1 });
  }
  return out;
}
