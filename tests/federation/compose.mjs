// Composes a subgraph SDL (read from stdin) into a supergraph with both Apollo's and The Guild's
// composition libraries, next to a small companion subgraph that extends Conduit's entities the way
// another service of a federated graph would. Prints one JSON report; exits 1 if either fails.
import { readFileSync } from "node:fs";

import { composeServices as apolloCompose } from "@apollo/composition";
import { composeServices as guildCompose } from "@theguild/federation-composition";
import { parse } from "graphql";

const COMPANION_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

  type Issue @key(fields: "id") {
    id: ID!
    ticketUrls: [String!]!
  }

  type Project @key(fields: "id") {
    id: ID!
    ticketCount: Int!
  }

  type Organization @key(fields: "id") {
    id: ID!
    plan: String!
  }

  type Query {
    companionVersion: String!
  }
`;

function report(name, compose, services) {
  try {
    const result = compose(services);
    const errors = (result.errors ?? []).map((e) => e.message);
    const hints = (result.hints ?? []).map((h) => h.message ?? String(h));
    return { library: name, ok: errors.length === 0 && Boolean(result.supergraphSdl), errors, hints };
  } catch (error) {
    return { library: name, ok: false, errors: [String(error?.stack ?? error)], hints: [] };
  }
}

const sdl = readFileSync(0, "utf8");
if (!sdl.trim()) {
  console.error("compose.mjs: expected the subgraph SDL on stdin");
  process.exit(2);
}

const services = () => [
  { name: "conduit", url: "http://conduit.invalid/graphql", typeDefs: parse(sdl) },
  { name: "companion", url: "http://companion.invalid/graphql", typeDefs: parse(COMPANION_SDL) },
];

const results = [
  report("@apollo/composition", apolloCompose, services()),
  report("@theguild/federation-composition", guildCompose, services()),
];
console.log(JSON.stringify(results, null, 2));
process.exit(results.every((r) => r.ok) ? 0 : 1);
