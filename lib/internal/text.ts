/**
 * Character tests for the hand-written scanners that read untrusted text (model outputs, requests). They
 * replace regular expressions whose backtracking is quadratic or worse on long runs of one character; every
 * scanner here runs in time linear in its input.
 */

/** The characters JavaScript's `\s` matches (WhiteSpace and LineTerminator of ECMA-262), by UTF-16 code unit. */
export function isSpaceCode(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/** `[A-Za-z0-9]`. */
export function isAlnumCode(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** `\w` without the u flag: `[A-Za-z0-9_]`. */
export function isWordCode(c: number): boolean {
  return c === 0x5f || isAlnumCode(c);
}

/** Does `text` hold `word` (lower-case ASCII) at `at`, ASCII letters compared without case (the i flag's reading)? */
export function asciiWordAt(text: string, at: number, word: string): boolean {
  if (at < 0 || at + word.length > text.length) return false;
  for (let k = 0; k < word.length; k++) {
    let c = text.charCodeAt(at + k);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** The first index >= `from` (and < `to`) that is not whitespace. */
export function skipSpaces(text: string, from: number, to = text.length): number {
  let i = from;
  while (i < to && isSpaceCode(text.charCodeAt(i))) i++;
  return i;
}

/** `text` without its trailing run of `ch` (e.g. a URL path's final slashes), in linear time. */
export function trimTrailing(text: string, ch: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === ch) end--;
  return text.slice(0, end);
}
