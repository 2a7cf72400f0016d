// Runs TypeDoc on TypeScript 5 (npm run docs loads this with --import).
//
// The project compiles with TypeScript 7, which has no JavaScript compiler
// API; TypeDoc needs one. TypeScript 5 is installed beside it under the
// alias "typescript5", and this hook makes the name "typescript" mean that
// one, for import and require alike, in this process only.
import Module, { register } from "node:module";

const alias = (specifier) =>
  specifier === "typescript" || specifier.startsWith("typescript/")
    ? `typescript5${specifier.slice("typescript".length)}`
    : specifier;

register(
  `data:text/javascript,${encodeURIComponent(`
    export function resolve(specifier, context, next) {
      return next((${alias.toString()})(specifier), context);
    }`)}`,
);

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, alias(request), ...rest);
};
