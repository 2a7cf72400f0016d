/**
 * The links of an HTML page or a stylesheet: a small extractor, careful
 * where it matters.
 *
 * Not an HTML parser: regular expressions over tags, with the cases that
 * trip naive ones handled. A parser (htmlparser2, parse5) would be the
 * first runtime dependency of the `linkwatcher` bin and read more than
 * this needs (text, the tree); what links need is tags, attributes and the
 * raw text of <style>, and that is what is read here:
 *
 * - comments are dropped, and so is the text inside <script>, <textarea>
 *   and <title> (an `<a href=...>` in a script string is no link), while
 *   the attributes of those tags (`<script src>`) still count;
 * - attribute values quoted with `"` or `'` (which may hold `>`), or bare;
 *   names matched whole, so `data-href` is not `href`;
 * - character references decoded (`&amp;` in a query string);
 * - every candidate of `srcset` and `imagesrcset`; the URL of
 *   `<meta http-equiv="refresh" content="5; url=...">`;
 * - CSS (unless `css: false`): `url()` and `@import` in <style> text and in
 *   `style=""` attributes, and in stylesheets (`extractCssLinks`);
 * - `<base href>` honoured; fragments dropped; only http(s) links kept
 *   (`mailto:`, `javascript:`, `data:` are not pages); each link once;
 * - a value that is no URL at all (`//////`, `http://[::1`) is kept apart,
 *   as written: a broken link, not nothing.
 *
 * Not handled: links made by scripts, URLs inside web manifests.
 */
import { withoutHash } from "./check.ts";

/** Which attributes of which tag hold a link (`srcset` ones are read by `srcsetUrls`). */
const LINK_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  a: ["href"],
  area: ["href"],
  link: ["href", "imagesrcset"],
  img: ["src", "srcset", "longdesc"],
  script: ["src"],
  iframe: ["src", "longdesc"],
  frame: ["src", "longdesc"],
  embed: ["src"],
  object: ["data"],
  source: ["src", "srcset"],
  track: ["src"],
  audio: ["src"],
  video: ["src", "poster"],
  input: ["src"],
  html: ["manifest"],
  body: ["background"],
  table: ["background"],
  td: ["background"],
  th: ["background"],
  blockquote: ["cite"],
  q: ["cite"],
  del: ["cite"],
  ins: ["cite"],
};

/** `<link rel>` values that name an origin to warm up, not a resource to fetch. */
const NOT_RESOURCES = /\b(preconnect|dns-prefetch)\b/i;

const COMMENT = /<!--[\s\S]*?(?:-->|$)/g;
const RAW_TEXT =
  /<(script|style|textarea|title)\b((?:"[^"]*"|'[^']*'|[^>"'])*)>([\s\S]*?)<\/\1\s*>/gi;
const TAG = /<([a-zA-Z][a-zA-Z0-9-]*)((?:"[^"]*"|'[^']*'|[^>"'])*)>/g;
const ATTRIBUTE = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
/**
 * An attribute name no page uses, put on a <style> tag whose text was taken
 * out, to find that text again (by its index) where the tag stands.
 */
const STYLE_TEXT = "\u0001";

/** What a page links to. */
export interface PageLinks {
  /** The http(s) links, absolute and without fragments, each once, in the order they appear. */
  readonly links: string[];
  /** Values that cannot be resolved to a URL (`//////`), as written, each once. */
  readonly invalid: string[];
}

/** What to read besides tags: `css: false` leaves <style> text and style="" alone. */
export interface ExtractOptions {
  readonly css?: boolean;
}

/** Collects links in order, each once, and the values that are no URL. */
class Found {
  readonly links = new Set<string>();
  readonly invalid = new Set<string>();

  add(value: string, base: string): void {
    const link = resolve(value, base);
    if (link === INVALID) this.invalid.add(value.trim());
    else if (link !== undefined) this.links.add(link);
  }

  result(): PageLinks {
    return { links: [...this.links], invalid: [...this.invalid] };
  }
}

/**
 * The links of an HTML page. `pageUrl` is where the page came from (after
 * redirects), against which relative links are resolved.
 */
export function extractLinks(
  html: string,
  pageUrl: string,
  options: ExtractOptions = {},
): PageLinks {
  const css = options.css !== false;
  const styles: string[] = [];
  const text = html
    .replace(COMMENT, " ")
    .replace(RAW_TEXT, (_whole, name: string, attributes: string, inner: string) => {
      if (!css || name.toLowerCase() !== "style") return `<${name}${attributes}></${name}>`;
      styles.push(inner);
      return `<${name}${attributes} ${STYLE_TEXT}=${styles.length - 1}></${name}>`;
    });
  let base = pageUrl;
  let baseSeen = false;
  const found = new Found();
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
    if (name === "link" && NOT_RESOURCES.test(attributes.get("rel") ?? "")) continue;
    for (const attribute of LINK_ATTRIBUTES[name] ?? []) {
      const value = attributes.get(attribute);
      if (value === undefined) continue;
      if (attribute.endsWith("srcset")) {
        for (const url of srcsetUrls(value)) found.add(url, base);
      } else {
        found.add(value, base);
      }
    }
    if (name === "meta" && attributes.get("http-equiv")?.toLowerCase() === "refresh") {
      const target = refreshUrl(attributes.get("content") ?? "");
      if (target !== undefined) found.add(target, base);
    }
    if (css) {
      const style = attributes.get("style");
      if (style !== undefined) cssUrls(style, base, found);
      const index = attributes.get(STYLE_TEXT);
      if (name === "style" && index !== undefined)
        cssUrls(styles[Number(index)] ?? "", base, found);
    }
  }
  return found.result();
}

/** The links of a stylesheet (`url()` and `@import`), resolved against where it came from. */
export function extractCssLinks(css: string, sheetUrl: string): PageLinks {
  const found = new Found();
  cssUrls(css, sheetUrl, found);
  return found.result();
}

const CSS_COMMENT = /\/\*[\s\S]*?(?:\*\/|$)/g;
/** `url(x)`, `url("x")`, `url('x')`, and `@import "x"` (an `@import url(x)` is a url()). */
const CSS_URL =
  /\burl\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')/gi;

function cssUrls(css: string, base: string, found: Found): void {
  for (const m of css.replace(CSS_COMMENT, " ").matchAll(CSS_URL)) {
    const value = m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5] ?? "";
    found.add(value, base);
  }
}

/**
 * The URLs of a `srcset`: candidates are split at commas, but a URL may hold
 * commas itself, so (as HTML reads it) a URL runs to the next whitespace,
 * loses the commas it ends with, and its descriptors ("2x", "800w") run to
 * the next comma.
 */
function srcsetUrls(value: string): string[] {
  const urls: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length && /[\s,]/.test(value[i] as string)) i++;
    let end = i;
    while (end < value.length && !/\s/.test(value[end] as string)) end++;
    let url = value.slice(i, end);
    i = end;
    if (url.endsWith(",")) {
      url = url.replace(/,+$/, "");
    } else {
      let depth = 0;
      for (; i < value.length; i++) {
        const c = value[i];
        if (c === "(") depth++;
        else if (c === ")") depth--;
        else if (c === "," && depth <= 0) break;
      }
    }
    if (url !== "") urls.push(url);
  }
  return urls;
}

/** The URL of a refresh's `content` ("5; url='/next.html'"), or undefined when it only reloads. */
function refreshUrl(content: string): string | undefined {
  const m = /^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(["']?)(.*?)\1\s*$/i.exec(content);
  const url = m?.[2] ?? "";
  return url === "" ? undefined : url;
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
