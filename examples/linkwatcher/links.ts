/**
 * The links of an HTML page: a small extractor, careful where it matters.
 *
 * Not an HTML parser (that would be a dependency for an example); regular
 * expressions over tags, with the cases that trip naive ones handled:
 *
 * - comments are dropped, and so is the text inside <script>, <style>,
 *   <textarea> and <title> (an `<a href=...>` in a script string is no link),
 *   while the attributes of those tags (`<script src>`) still count;
 * - attribute values quoted with `"` or `'` (which may hold `>`), or bare;
 *   names matched whole, so `data-href` is not `href`;
 * - character references decoded (`&amp;` in a query string);
 * - `<base href>` honoured; fragments dropped; only http(s) links kept
 *   (`mailto:`, `javascript:`, `data:` are not pages); each link once;
 * - a value that is no URL at all (`//////`, `http://[::1`) is kept apart,
 *   as written: a broken link, not nothing.
 *
 * Not handled: `srcset`, URLs inside CSS, links made by scripts.
 */
import { withoutHash } from "./check.ts";

/** Which attribute of which tag holds a link. */
const LINK_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  a: ["href"],
  area: ["href"],
  link: ["href"],
  img: ["src"],
  script: ["src"],
  iframe: ["src"],
  frame: ["src"],
  embed: ["src"],
  source: ["src"],
  track: ["src"],
  audio: ["src"],
  video: ["src", "poster"],
};

/** `<link rel>` values that name an origin to warm up, not a resource to fetch. */
const NOT_RESOURCES = /\b(preconnect|dns-prefetch)\b/i;

const COMMENT = /<!--[\s\S]*?(?:-->|$)/g;
const RAW_TEXT =
  /<(script|style|textarea|title)\b((?:"[^"]*"|'[^']*'|[^>"'])*)>[\s\S]*?<\/\1\s*>/gi;
const TAG = /<([a-zA-Z][a-zA-Z0-9-]*)((?:"[^"]*"|'[^']*'|[^>"'])*)>/g;
const ATTRIBUTE = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

/** What a page links to. */
export interface PageLinks {
  /** The http(s) links, absolute and without fragments, each once, in the order they appear. */
  readonly links: string[];
  /** Values that cannot be resolved to a URL (`//////`), as written, each once. */
  readonly invalid: string[];
}

/**
 * The links of a page. `pageUrl` is where the page came from (after
 * redirects), against which relative links are resolved.
 */
export function extractLinks(html: string, pageUrl: string): PageLinks {
  const text = html.replace(COMMENT, " ").replace(RAW_TEXT, "<$1$2></$1>");
  let base = pageUrl;
  let baseSeen = false;
  const links = new Set<string>();
  const invalid = new Set<string>();
  for (const tag of text.matchAll(TAG)) {
    const name = (tag[1] ?? "").toLowerCase();
    const attributes = parseAttributes(tag[2] ?? "");
    if (name === "base" && !baseSeen) {
      // Only the first <base href> counts. It belongs in <head>, before any link, so
      // applying it from where it stands gives what browsers do for real pages.
      const href = attributes.get("href");
      const resolved = href === undefined ? undefined : resolve(href, pageUrl);
      if (resolved !== undefined && resolved !== INVALID) {
        base = resolved;
        baseSeen = true;
      }
      continue;
    }
    const names = LINK_ATTRIBUTES[name];
    if (names === undefined) continue;
    if (name === "link" && NOT_RESOURCES.test(attributes.get("rel") ?? "")) continue;
    for (const attribute of names) {
      const value = attributes.get(attribute);
      if (value === undefined) continue;
      const link = resolve(value, base);
      if (link === INVALID) invalid.add(value.trim());
      else if (link !== undefined) links.add(link);
    }
  }
  return { links: [...links], invalid: [...invalid] };
}

/** Attribute names (lower case) to decoded values; the first of a repeated name wins, as in HTML. */
function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const m of source.matchAll(ATTRIBUTE)) {
    const name = (m[1] ?? "").toLowerCase();
    if (attributes.has(name)) continue;
    attributes.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ""));
  }
  return attributes;
}

const INVALID = Symbol("not a valid URL");

/**
 * An absolute http(s) URL without fragment; undefined for what is no page
 * link (another scheme, this same page); INVALID for what no URL parser takes.
 */
function resolve(value: string, base: string): string | typeof INVALID | undefined {
  // HTML strips leading and trailing ASCII whitespace from URLs (and drops tabs and newlines inside).
  const trimmed = value.replace(/[\t\n\r]/g, "").trim();
  if (trimmed === "" || trimmed.startsWith("#")) return undefined; // this same page
  let url: URL;
  try {
    url = new URL(trimmed, base);
  } catch {
    return INVALID;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return withoutHash(url);
}

const NAMED: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
};

/** Decodes `&amp;`, `&#38;`, `&#x26;` and the few named references that appear in URLs. */
function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code =
        ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}
