/**
 * Forms checked offline, by the server's own table of rules
 * (`sdks/fixtures/form-rules.json`, generated into `generated/form-rules.ts`):
 * every field's JSON kind and presence, unknown fields, and the length and
 * characters of free text. Nothing here is a rule of its own: this module
 * only reads the table, which the tests hold to the server's answers.
 *
 * Two rules of values are the table's too, named by a field's `value`: an
 * email address and a role's permissions (the table's `values`, held to the
 * domain's email.rs and role.rs by the same fixture). What needs more (a
 * URL, a CIDR, a JWK Set, a password's strength, a role that exists) is
 * left to the server; a form refused here would have been refused there,
 * with the same codes and words.
 */

import { ValidationError } from "./errors.js";
import type { FieldError } from "./errors.js";
import { FORM_RULES } from "./generated/form-rules.js";

/** The forms the table holds, by their OpenAPI schema names. */
export type FormName = keyof typeof FORM_RULES.forms;

type Ranges = readonly (readonly [number, number])[];

interface TextRule {
  readonly max_chars: number;
  readonly multiline: boolean;
  readonly blank: "refused" | "absent";
}

interface FieldRule {
  readonly name: string;
  readonly kind: "text" | "text_list" | "boolean" | "integer" | "object" | { readonly choice: readonly string[] };
  readonly presence: "required" | "optional" | "clearable";
  readonly text?: TextRule;
  readonly value?: "email" | "permissions";
}

const inRanges = (ranges: Ranges, code: number) => ranges.some(([low, high]) => code >= low && code <= high);
const WHITESPACE: Ranges = FORM_RULES.whitespace;
const CONTROL: Ranges = FORM_RULES.control;
const MULTILINE_ALLOWS: readonly number[] = FORM_RULES.multiline_allows;

/** `text` trimmed of the table's whitespace at both ends (not JavaScript's, which differs). */
function trimmed(text: string): string {
  const chars = Array.from(text);
  let start = 0;
  let end = chars.length;
  while (start < end && inRanges(WHITESPACE, chars[start]?.codePointAt(0) ?? 0)) start++;
  while (end > start && inRanges(WHITESPACE, chars[end - 1]?.codePointAt(0) ?? 0)) end--;
  return chars.slice(start, end).join("");
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`. */
function oneOf(values: readonly string[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  const last = quoted.pop();
  if (last === undefined) return "nothing";
  return quoted.length === 0 ? last : `${quoted.join(", ")} or ${last}`;
}

function expected(kind: FieldRule["kind"]): string {
  if (typeof kind === "object") return "a string";
  return { text: "a string", text_list: "a list of strings", boolean: "true or false", integer: "an integer", object: "an object" }[kind];
}

/** Whether `value` is of `kind`, as serde reads the JSON the SDK writes of it. */
function fits(kind: FieldRule["kind"], value: unknown): boolean {
  if (typeof kind === "object" || kind === "text") return typeof value === "string";
  switch (kind) {
    case "text_list":
      return Array.isArray(value) && value.every((item) => typeof item === "string");
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      // JSON.stringify writes 1e21 and up in exponent form, which is no integer to serde.
      return typeof value === "number" && Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63 && Math.abs(value) < 1e21;
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
  }
}

/** A text rule's verdict on a value the shape let through (TextRule in the domain's text.rs). */
function textError(field: string, rule: TextRule, raw: string): FieldError | undefined {
  const value = trimmed(raw);
  if (value === "") {
    return rule.blank === "refused" ? { field, code: "required", message: `${field} is required` } : undefined;
  }
  const chars = Array.from(value).length;
  if (chars > rule.max_chars) {
    return { field, code: "too_long", message: `${field} must be at most ${rule.max_chars} characters (got ${chars})` };
  }
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (inRanges(CONTROL, code) && !(rule.multiline && MULTILINE_ALLOWS.includes(code))) {
      return { field, code: "invalid_characters", message: `${field} must not contain control characters` };
    }
  }
  return undefined;
}

const EMAIL = FORM_RULES.values.email;
const PERMISSIONS: { readonly names: readonly string[]; readonly syntax: string } = FORM_RULES.values.permissions;
/** Rust's `char::is_alphanumeric`: Alphabetic, or a number of any kind. */
const LETTER_OR_DIGIT = /^[\p{Alphabetic}\p{N}]$/u;
const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

/** email.rs `is_valid_address`: a local part and a dotted domain, split at the last `@`. */
function isAddress(value: string): boolean {
  const at = value.lastIndexOf("@");
  if (at < 0) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  const localOk =
    local !== "" &&
    utf8Bytes(local) <= EMAIL.max_local_bytes &&
    !local.startsWith(".") &&
    !local.endsWith(".") &&
    !local.includes("..") &&
    Array.from(local).every((c) => LETTER_OR_DIGIT.test(c) || EMAIL.local_symbols.includes(c));
  const labels = domain.split(".");
  const domainOk =
    labels.length >= 2 &&
    labels.every(
      (label) =>
        label !== "" &&
        utf8Bytes(label) <= EMAIL.max_label_bytes &&
        !label.startsWith("-") &&
        !label.endsWith("-") &&
        Array.from(label).every((c) => LETTER_OR_DIGIT.test(c) || c === "-"),
    );
  return localOk && domainOk;
}

/** email.rs `Email::parse`, whose words name the field `email` whatever it is called. */
function emailError(field: string, raw: string): FieldError | undefined {
  const value = trimmed(raw);
  if (value === "") return { field, code: "required", message: "email is required" };
  if (Array.from(value).length > EMAIL.max_chars) {
    return { field, code: "too_long", message: `email must be at most ${EMAIL.max_chars} characters` };
  }
  if (!isAddress(value)) return { field, code: "invalid_email", message: "email must be an address like name@example.org" };
  return undefined;
}

// What Rust's `{:?}` escapes in a string beyond `\t \r \n \0 \\ \"`: characters it
// does not print (control, format, surrogate, private, unassigned, separators
// but the space) and combining marks.
const RUST_UNPRINTED = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Grapheme_Extend}]|(?! )\p{Zs}/u;
const RUST_ESCAPES: Record<string, string> = { "\t": "\\t", "\r": "\\r", "\n": "\\n", "\0": "\\0", "\\": "\\\\", '"': '\\"' };

/** `text` as Rust's `format!("{text:?}")` writes it, for the words of a refused permission. */
function rustDebug(text: string): string {
  let out = '"';
  for (const c of text) {
    const escape = RUST_ESCAPES[c];
    if (escape !== undefined) out += escape;
    else if (RUST_UNPRINTED.test(c)) out += `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`;
    else out += c;
  }
  return `${out}"`;
}

/** role.rs `permissions_rule`: at least one, each a known permission once; the first fault only. */
function permissionsError(field: string, listed: readonly string[]): FieldError | undefined {
  if (listed.length === 0) return { field, code: "required", message: "a role needs at least one permission" };
  const seen = new Set<string>();
  for (const text of listed) {
    const name = trimmed(text);
    if (!PERMISSIONS.names.includes(name)) {
      return { field, code: "invalid_permission", message: `${rustDebug(text)}: ${PERMISSIONS.syntax}` };
    }
    if (seen.has(name)) return { field, code: "duplicate_permission", message: `${name} is listed twice` };
    seen.add(name);
  }
  return undefined;
}

/** The error of a field's value rule, if it has one. */
function valueError(field: FieldRule, value: unknown): FieldError | undefined {
  switch (field.value) {
    case "email":
      return emailError(field.name, value as string);
    case "permissions":
      return permissionsError(field.name, value as readonly string[]);
    case undefined:
      return undefined;
  }
}

/**
 * Every error the table finds in `body` as form `form`, in the order the
 * server lists them: each field's in the table's order, then unknown
 * fields, sorted. Empty when the table finds nothing (the server may still).
 */
export function formErrors(form: FormName, body: unknown): FieldError[] {
  // A body that is no object has no field to blame: the server says so.
  if (typeof body !== "object" || body === null || Array.isArray(body)) return [];
  const fields: readonly FieldRule[] = FORM_RULES.forms[form].fields;
  const given = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const field of fields) {
    const name = field.name;
    // JSON.stringify leaves out a member that is undefined.
    const value = given[name];
    if (value === undefined || value === null) {
      if (field.presence === "required") errors.push({ field: name, code: "required", message: `${name} is required` });
      continue;
    }
    if (!fits(field.kind, value)) {
      const orNull = field.presence === "required" ? "" : " or null";
      errors.push({ field: name, code: "invalid_type", message: `${name} must be ${expected(field.kind)}${orNull}` });
      continue;
    }
    if (typeof field.kind === "object" && !field.kind.choice.includes(value as string)) {
      errors.push({ field: name, code: "invalid_value", message: `${name} must be ${oneOf(field.kind.choice)}` });
      continue;
    }
    const error = field.text !== undefined ? textError(name, field.text, value as string) : valueError(field, value);
    if (error !== undefined) errors.push(error);
  }
  const known = new Set(fields.map((f) => f.name));
  const listing = fields.map((f) => f.name).join(", ");
  const unknown = Object.keys(given)
    .filter((key) => !known.has(key) && given[key] !== undefined)
    .sort(byBytes)
    .slice(0, FORM_RULES.max_unknown_listed);
  for (const key of unknown) {
    errors.push({ field: key, code: "unknown_field", message: `this form has no such field; its fields are ${listing}` });
  }
  return errors;
}

/** Keys in the order of their UTF-8 bytes, as the server sorts them. */
function byBytes(a: string, b: string): number {
  const encoder = new TextEncoder();
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  }
  return x.length - y.length;
}

/** Throws a {@link ValidationError} with every error the table finds, before anything is sent. @internal */
export function checkForm(form: FormName, body: unknown): void {
  const errors = formErrors(form, body);
  if (errors.length > 0) throw new ValidationError(errors);
}
