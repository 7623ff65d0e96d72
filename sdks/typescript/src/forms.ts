/**
 * Forms checked offline, by the server's own table of rules
 * (`sdks/fixtures/form-rules.json`, generated into `generated/form-rules.ts`):
 * every field's JSON kind and presence, unknown fields, and the length and
 * characters of free text. Nothing here is a rule of its own: this module
 * only reads the table, which the tests hold to the server's answers.
 *
 * What needs more than the table (an email, a URL, a CIDR, a JWK Set, a
 * password's strength, a role that exists) is left to the server; a form
 * refused here would have been refused there, with the same codes and
 * words.
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
    if (field.text !== undefined) {
      const error = textError(name, field.text, value as string);
      if (error !== undefined) errors.push(error);
    }
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
