import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Parser from "web-tree-sitter";

/**
 * Bicep files as syntax trees, for tests that check infra/ without the Bicep CLI (not installable
 * offline). The grammar is tree-sitter-bicep (its WebAssembly build, no native code): it checks
 * syntax and lets tests read declarations, not types or resource schemas.
 */
export type Node = Parser.SyntaxNode;

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const infraDir = join(repoRoot, "infra");

let parser: Promise<Parser> | undefined;

function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const wasm = createRequire(import.meta.url).resolve("tree-sitter-bicep/tree-sitter-bicep.wasm");
    const language = await Parser.Language.load(wasm);
    const p = new Parser();
    p.setLanguage(language);
    return p;
  })();
  return parser;
}

export interface BicepFile {
  path: string;
  text: string;
  root: Node;
  /** "line:column what" for every ERROR or MISSING node; empty when the file parses cleanly. */
  syntaxErrors: string[];
}

export async function parseBicep(text: string, path = "<inline>"): Promise<BicepFile> {
  const root = (await bicepParser()).parse(text).rootNode;
  const syntaxErrors: string[] = [];
  const walk = (n: Node): void => {
    if (n.type === "ERROR" || n.isMissing) {
      syntaxErrors.push(`${n.startPosition.row + 1}:${n.startPosition.column + 1} ${n.isMissing ? `missing ${n.type}` : `unexpected '${n.text.slice(0, 40)}'`}`);
    }
    for (const c of n.children) walk(c);
  };
  walk(root);
  return { path, text, root, syntaxErrors };
}

export async function loadBicep(relativeToInfra: string): Promise<BicepFile> {
  const path = join(infraDir, relativeToInfra);
  return parseBicep(readFileSync(path, "utf8"), path);
}

function named(n: Node): Node[] {
  return n.namedChildren;
}

/** Top-level declarations of one kind: parameter_declaration, variable_declaration, resource_declaration, ... */
export function declarations(file: BicepFile, type: string): Node[] {
  return named(file.root).filter((n) => n.type === type);
}

export function declarationName(n: Node): string {
  const id = named(n).find((c) => c.type === "identifier");
  if (id === undefined) throw new Error(`declaration without a name at ${n.startPosition.row + 1}`);
  return id.text;
}

export function declaration(file: BicepFile, type: string, name: string): Node {
  const found = declarations(file, type).find((n) => declarationName(n) === name);
  if (found === undefined) throw new Error(`${file.path}: no ${type} named ${name}`);
  return found;
}

/** The value of `var x = <value>` or the default of `param x T = <value>` (undefined when none). */
export function declaredValue(n: Node): Node | undefined {
  const kids = named(n);
  const last = kids[kids.length - 1];
  if (n.type === "parameter_declaration") return kids.length >= 3 && last !== undefined && last.type !== "type" ? last : undefined;
  return kids.length >= 2 ? last : undefined;
}

/** Key text of an object property (identifier or quoted string). */
export function propertyKey(p: Node): string {
  const key = named(p)[0];
  if (key === undefined) throw new Error("object property without a key");
  return key.type === "string" ? stringLiteral(key) ?? key.text : key.text;
}

export function propertyValue(p: Node): Node {
  const value = named(p)[1];
  if (value === undefined) throw new Error(`property ${propertyKey(p)} without a value`);
  return value;
}

/** Properties of an object literal, in source order (duplicates kept, so tests can see them). */
export function objectProperties(obj: Node): Array<{ key: string; value: Node; node: Node }> {
  if (obj.type !== "object") throw new Error(`expected an object, got ${obj.type}`);
  return named(obj)
    .filter((c) => c.type === "object_property")
    .map((p) => ({ key: propertyKey(p), value: propertyValue(p), node: p }));
}

/** Follows a path of property names through nested object literals. */
export function property(obj: Node, ...path: string[]): Node | undefined {
  let current: Node | undefined = obj;
  for (const key of path) {
    if (current?.type !== "object") return undefined;
    current = objectProperties(current).find((p) => p.key === key)?.value;
  }
  return current;
}

/** The text of a string literal without interpolation; undefined for anything else. */
export function stringLiteral(n: Node | undefined): string | undefined {
  if (n?.type !== "string") return undefined;
  const parts = named(n);
  if (parts.some((p) => p.type !== "string_content" && p.type !== "escape_sequence")) return undefined;
  return parts.map((p) => (p.type === "escape_sequence" ? p.text.slice(1) : p.text)).join("");
}

/** A literal value: string, number or boolean (undefined for expressions). */
export function literal(n: Node | undefined): string | number | boolean | undefined {
  if (n === undefined) return undefined;
  if (n.type === "string") return stringLiteral(n);
  if (n.type === "number") return Number(n.text);
  if (n.type === "boolean") return n.text === "true";
  return undefined;
}

export interface ResourceDecl {
  symbol: string;
  /** "Microsoft.X/y" without the API version. */
  type: string;
  apiVersion: string;
  existing: boolean;
  /** The body object, through `[for ...: {}]` and `if (...) {}`. */
  body: Node;
  condition: Node | undefined;
  loop: boolean;
}

function unwrapBody(n: Node): { body: Node; condition: Node | undefined; loop: boolean } {
  if (n.type === "object") return { body: n, condition: undefined, loop: false };
  if (n.type === "if_statement") {
    const [condition, body] = named(n);
    if (body === undefined) throw new Error("if without a body");
    return { ...unwrapBody(body), condition };
  }
  if (n.type === "for_statement") {
    const body = n.childForFieldName("body") ?? named(n)[named(n).length - 1];
    if (body === undefined || body === null) throw new Error("for without a body");
    return { ...unwrapBody(body), loop: true };
  }
  throw new Error(`unexpected resource body ${n.type}`);
}

export function resources(file: BicepFile): ResourceDecl[] {
  return declarations(file, "resource_declaration").map((n) => {
    const kids = named(n);
    const typeNode = kids.find((c) => c.type === "string");
    const fullType = stringLiteral(typeNode) ?? "";
    const [type = "", apiVersion = ""] = fullType.split("@");
    const bodyNode = kids[kids.length - 1];
    if (bodyNode === undefined) throw new Error("resource without a body");
    const { body, condition, loop } = unwrapBody(bodyNode);
    return { symbol: declarationName(n), type, apiVersion, existing: n.children.some((c) => c.type === "existing"), body, condition, loop };
  });
}

export interface ModuleDecl {
  symbol: string;
  path: string;
  body: Node;
}

export function modules(file: BicepFile): ModuleDecl[] {
  return declarations(file, "module_declaration").map((n) => {
    const kids = named(n);
    const bodyNode = kids[kids.length - 1];
    if (bodyNode === undefined) throw new Error("module without a body");
    return { symbol: declarationName(n), path: stringLiteral(kids.find((c) => c.type === "string")) ?? "", body: unwrapBody(bodyNode).body };
  });
}

export interface ParamDecl {
  name: string;
  defaultValue: Node | undefined;
}

export function params(file: BicepFile): ParamDecl[] {
  return declarations(file, "parameter_declaration").map((n) => ({ name: declarationName(n), defaultValue: declaredValue(n) }));
}

export function outputNames(file: BicepFile): string[] {
  return declarations(file, "output_declaration").map(declarationName);
}

/** Every node of a type under `n` (depth first). */
export function descendants(n: Node, type: string): Node[] {
  return n.descendantsOfType(type);
}
