// Builds the two scripts service/web.py serves from the modules in this folder, with esbuild
// (the exact version pinned in package.json and package-lock.json):
//
//   dist/chat.js    the chat page's script (entry page.js), served as /static/chat.js
//   dist/widget.js  the embeddable widget (entry widget.js), served as /widget.js, with the
//                   stylesheet (../chat.css + ../widget.css, minified) inside as a string
//
// Both are one minified IIFE in strict mode: nothing leaks but the window.ragqa they set.
// The bundles are committed; tests/test_assets.py rebuilds them and fails when they are stale.
//
// Usage: node service/static/src/build.mjs [OUTDIR]    (default service/static/dist; `make assets`)

import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const SRC = path.dirname(fileURLToPath(import.meta.url));
const STATIC = path.dirname(SRC);
const OUTDIR = path.resolve(process.argv[2] || path.join(STATIC, "dist"));
const TARGET = "es2017";  // the syntax the hand-written chat.js used (async functions, no spread)

async function widgetCss() {
  const parts = await Promise.all(["chat.css", "widget.css"].map((name) => readFile(path.join(STATIC, name), "utf8")));
  const out = await esbuild.transform(parts.join("\n"), { loader: "css", minify: true, legalComments: "none" });
  return out.code.trim();
}

// `import CSS from "ragqa:css"` in widget.js: the stylesheet text.
function cssModule(css) {
  return {
    name: "ragqa-css",
    setup(build) {
      build.onResolve({ filter: /^ragqa:css$/ }, (args) => ({ path: args.path, namespace: "ragqa-css" }));
      build.onLoad({ filter: /.*/, namespace: "ragqa-css" }, () => ({ contents: css, loader: "text" }));
    },
  };
}

function bundle(entry, outfile, what, plugins) {
  return esbuild.build({
    entryPoints: [path.join(SRC, entry)],
    outfile: path.join(OUTDIR, outfile),
    bundle: true,
    format: "iife",
    minify: true,
    target: TARGET,
    charset: "utf8",
    legalComments: "none",
    banner: { js: `/*! ragqa ${what}: built from service/static/src by esbuild ${esbuild.version} (make assets); do not edit */\n"use strict";` },
    plugins: plugins,
    logLevel: "warning",
  });
}

await bundle("page.js", "chat.js", "chat page", []);
await bundle("widget.js", "widget.js", "widget", [cssModule(await widgetCss())]);
