// ESLint: typescript-eslint's type-checked recommended rules over the TypeScript sources, the
// recommended JavaScript rules over the few .mjs/.js files. Part of `npm run lint`, with
// dependency-cruiser (the import rules, .dependency-cruiser.cjs) and Prettier (formatting).
import eslint from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "coverage/", ".local/", ".tmp/", "test-artifacts/", "bench/results/", ".deploy/"] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    rules: {
      // In-memory ports implement promise-returning interfaces with `async` methods that need
      // no await: a throw there is a rejection, as in the real adapters.
      "@typescript-eslint/require-await": "off",
      // Interfaces declare callbacks with method syntax (`out(line: string): void`); handing
      // such a callback on is intended, and no class here relies on an unbound `this`.
      "@typescript-eslint/unbound-method": "off",
      // A leading underscore marks a parameter an interface requires and an implementation ignores.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // The request schemas refuse control characters: their patterns name them on purpose.
    files: ["shared/http/request-schemas.ts"],
    rules: { "no-control-regex": "off" },
  },
  {
    // Peers and tests stringify values off the wire and SDK bodies (typed any) on purpose.
    files: ["emulators/**", "test/**"],
    rules: {
      "@typescript-eslint/no-base-to-string": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-redundant-type-constituents": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  { files: ["dev/portal/**/*.js"], languageOptions: { globals: globals.browser } },
  { files: ["**/*.cjs"], languageOptions: { sourceType: "commonjs" } },
);
