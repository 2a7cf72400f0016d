/**
 * Compression for serveStatic: which content types are worth compressing,
 * which encoding a client's `Accept-Encoding` asks for, and node:zlib's
 * compressors as promises (run in the thread pool, never on the loop).
 *
 * Two encodings are served: `br` (brotli, preferred: a quarter smaller
 * than gzip on JavaScript) and `gzip`. A file is compressed once, at its
 * best (brotli quality 11, gzip level 9), and kept (see serveStatic's
 * cache): the cost of compressing is paid per version of a file, never
 * per request.
 */
import { promisify } from "node:util";
import * as zlib from "node:zlib";

/** The encodings served, best first. */
export type Encoding = "br" | "gzip";

/** The file name suffix of a precompressed sibling: `app.js.br`, `app.js.gz`. */
export const SUFFIX: Readonly<Record<Encoding, string>> = { br: ".br", gzip: ".gz" };

/** Files smaller than this are sent as they are: a compressed one saves less than its headers cost. */
export const MIN_COMPRESS_BYTES = 1024;

/** Files larger than this are compressed only when they have a precompressed sibling. */
export const MAX_COMPRESS_BYTES = 8 * 1024 * 1024;

/**
 * Whether a content type is worth compressing: text, JSON, XML,
 * JavaScript, SVG, WebAssembly, fonts without their own compression (ttf,
 * otf), icons and bitmaps. Images, audio, video, archives and woff/woff2
 * are compressed already.
 */
export function isCompressible(contentType: string): boolean {
  return /^text\/|[/+](json|xml|javascript|ecmascript)\b|^image\/(svg\+xml|bmp|x-icon|vnd\.microsoft\.icon)|^application\/(wasm|x-sh|x-tar)|^font\/(ttf|otf)/.test(
    contentType,
  );
}

let lastHeader: string | undefined;
let lastWeights: Map<string, number> | undefined;

/** The q-values of an Accept-Encoding header, by lower-case coding name (the last one parsed is kept). */
function weights(header: string): Map<string, number> {
  if (header === lastHeader && lastWeights !== undefined) return lastWeights;
  const map = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name = "", ...params] = part.split(";");
    const coding = name.trim().toLowerCase();
    if (coding === "") continue;
    let q = 1;
    for (const param of params) {
      const [key = "", value = ""] = param.split("=");
      if (key.trim().toLowerCase() === "q") {
        const n = Number(value.trim());
        q = Number.isNaN(n) ? 0 : Math.min(1, Math.max(0, n));
      }
    }
    map.set(coding, q);
  }
  lastHeader = header;
  lastWeights = map;
  return map;
}

/**
 * The encoding to answer with (RFC 9110 12.5.3): of those `available`, the
 * one with the highest q-value above 0 in `header` (brotli on a tie), a
 * coding not named taking the q-value of `*` if there is one, else 0;
 * "x-gzip" counts as gzip. Undefined for the file as it is: no header, no
 * coding the client takes, or none available.
 */
export function negotiate(
  header: string | undefined,
  available: readonly Encoding[],
): Encoding | undefined {
  if (header === undefined || header === "" || available.length === 0) return undefined;
  const q = weights(header);
  const star = q.get("*") ?? 0;
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const encoding of available) {
    const named = q.get(encoding) ?? (encoding === "gzip" ? q.get("x-gzip") : undefined);
    const value = named ?? star;
    if (value > bestQ) {
      best = encoding;
      bestQ = value;
    }
  }
  return best;
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * Compresses bytes in the thread pool: brotli at quality 11 (its best) up
 * to 1 MiB and 9 above (11 costs seconds there), gzip at level 9.
 */
export function compress(encoding: Encoding, bytes: Uint8Array): Promise<Buffer> {
  if (encoding === "gzip") return gzip(bytes, { level: 9 });
  return brotli(bytes, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: bytes.length <= 1024 * 1024 ? 11 : 9,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
}
