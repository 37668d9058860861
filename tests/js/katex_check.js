#!/usr/bin/env node
/**
 * Render TeX segments with KaTeX and report which ones fail.
 *
 * stdin:  JSON array of {"tex": "...", "display": true|false}
 * stdout: JSON array of the same length, null for a segment that renders,
 *         else KaTeX's error message
 * exit:   0 when the input was read (whatever the results), 2 on bad input
 */
"use strict";

const katex = require("katex");

function readStdin() {
  return require("fs").readFileSync(0, "utf8");
}

function parseSegments(text) {
  const segments = JSON.parse(text);
  if (!Array.isArray(segments)) {
    throw new Error("expected a JSON array");
  }
  segments.forEach((segment, index) => {
    if (segment === null || typeof segment.tex !== "string") {
      throw new Error(`segment ${index}: "tex" must be a string`);
    }
  });
  return segments;
}

function renderError(segment) {
  try {
    katex.renderToString(segment.tex, {
      throwOnError: true,
      displayMode: Boolean(segment.display),
    });
    return null;
  } catch (error) {
    return String(error && error.message ? error.message : error);
  }
}

function main() {
  let segments;
  try {
    segments = parseSegments(readStdin());
  } catch (error) {
    process.stderr.write(`katex_check.js: bad input: ${error.message}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(segments.map(renderError)) + "\n");
}

main();
