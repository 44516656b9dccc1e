// Builds the console UI into dist/ (or the directory given as the first
// argument): index.html, app.js, app.css and favicon.svg. The output is deterministic (no
// timestamps, fixed file names; index.html references the bundles with a
// content hash as query string so browsers never run a stale bundle), and
// broker/console/ui_test.go checks that the committed dist/ equals a fresh
// build of src/.
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, "dist"));

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: "src/app.tsx", styles: "src/app.css" },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  platform: "browser",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  charset: "utf8",
  define: { "process.env.NODE_ENV": '"production"' },
  write: false,
  outdir: "out",
  logLevel: "warning",
});

const files = new Map();
for (const f of result.outputFiles) {
  const name = f.path.endsWith(".css") ? "app.css" : "app.js";
  files.set(name, Buffer.from(f.contents));
}
files.set("favicon.svg", readFileSync(join(here, "src", "favicon.svg")));
const hash = (b) => createHash("sha256").update(b).digest("hex").slice(0, 12);

const template = readFileSync(join(here, "src", "index.html"), "utf8");
const html = template
  .replace("{{css}}", `app.css?v=${hash(files.get("app.css"))}`)
  .replace("{{js}}", `app.js?v=${hash(files.get("app.js"))}`);
files.set("index.html", Buffer.from(html));

mkdirSync(outdir, { recursive: true });
for (const old of readdirSync(outdir)) {
  if (!files.has(old)) rmSync(join(outdir, old), { recursive: true, force: true });
}
for (const [name, data] of files) writeFileSync(join(outdir, name), data);
console.log(`built ${[...files.keys()].sort().join(", ")} into ${outdir}`);
