/**
 * The allowed arrows between the folders (ARCHITECTURE.md explains them): `npm run lint`
 * fails on any import that breaks one.
 */
const CORE = "^shared/(domain|errors|protocol|ports|app|keys|config|http)/";
const SDK = "^node_modules/(@azure/|rhea|ldapts)";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "shared-stays-inside",
      comment: "shared/ is what the Function App runs: it imports nothing from the agent, the CLI, dev tooling, the peers, benchmarks or tests.",
      severity: "error",
      from: { path: "^shared/" },
      to: { path: "^(agent|cli|dev|emulators|bench|test|functions)/" },
    },
    {
      name: "core-imports-no-sdk",
      comment: "The core is free of Azure and network SDKs: only shared/adapters/ touches them.",
      severity: "error",
      from: { path: CORE },
      to: { path: SDK },
    },
    {
      name: "core-imports-no-adapter",
      comment: "The core sees the outside world through ports; adapters and the composition root are wired around it.",
      severity: "error",
      from: { path: CORE },
      to: { path: "^shared/(adapters|composition)/" },
    },
    {
      name: "domain-is-pure",
      comment: "Domain rules and vocabulary depend on nothing else in the product (the protocol and the use cases import them, not the reverse).",
      severity: "error",
      from: { path: "^shared/domain/" },
      to: { path: "^shared/(?!domain/)" },
    },
    {
      name: "protocol-below-app",
      comment: "The wire format knows the domain's vocabulary and the errors, not the use cases, HTTP or ports.",
      severity: "error",
      from: { path: "^shared/protocol/" },
      to: { path: "^shared/(app|http|ports|keys|config)/" },
    },
    {
      name: "app-knows-no-http",
      comment: "Use cases take their own input types: HTTP (schemas, auth, pipeline) is a way in, above them.",
      severity: "error",
      from: { path: "^shared/app/" },
      to: { path: "^shared/http/" },
    },
    {
      name: "functions-are-thin",
      comment: "A function file parses, calls shared/ and maps the result: no SDK (besides the Functions library through shared/adapters/functions), no adapter of its own.",
      severity: "error",
      from: { path: "^functions/" },
      to: { path: "^(node_modules/(?!@azure/functions/)|shared/adapters/(?!functions/)|agent/|cli/|dev/|emulators/)" },
    },
    {
      name: "agent-uses-the-shared-kernel",
      comment: "The agent shares only the kernel with the cloud side: protocol, errors, ports, domain vocabulary, the version, the Service Bus connection (and its batching sender and queue names) and the log writer.",
      severity: "error",
      from: { path: "^agent/" },
      to: {
        path: "^shared/",
        pathNot: "^shared/(protocol|errors|ports|domain)/|^shared/version\\.ts$|^shared/adapters/servicebus/(connection|queue-names|batching-sender|tcp-no-delay|errors)\\.ts$|^shared/adapters/logging/coalescing-writer\\.ts$",
      },
    },
    {
      name: "agent-is-not-dev",
      comment: "The installed agent runs without the local stack, the CLI, the peers or tests.",
      severity: "error",
      from: { path: "^agent/" },
      to: { path: "^(cli|dev|emulators|bench|test|functions)/" },
    },
    {
      name: "emulators-stand-alone",
      comment: "The local peers implement Azure's wire protocols, not the product: nothing from shared/app (nor the agent, dev tooling or tests).",
      severity: "error",
      from: { path: "^emulators/" },
      to: { path: "^(shared/app|agent|cli|dev|bench|test|functions)/" },
    },
    {
      name: "cli-is-a-client",
      comment: "The operator CLI talks to the HTTP API and Service Bus administration; it does not run the use cases.",
      severity: "error",
      from: { path: "^cli/" },
      to: { path: "^(shared/(app|composition)|agent|dev|emulators|bench|test)/" },
    },
    {
      name: "unit-tests-use-test-support",
      comment: "Unit tests take fixtures from test/support/, not from dev/ (the local stack may change for its own reasons); test/unit/dev/ tests dev/ itself.",
      severity: "error",
      from: { path: "^test/unit/(?!dev/)" },
      to: { path: "^dev/(?!functions-host/)" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "no-dev-dependency-in-production",
      comment: "What the Function App and the agent run may not need a devDependency.",
      severity: "error",
      from: { path: "^(shared|functions|agent)/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"], extensions: [".ts", ".js", ".mjs", ".cjs", ".json"] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
