// Prints, as JSON, every document web/src/operations.js exports, as Apollo Client sends it:
// the cache's transform (adds __typename everywhere) and then graphql's print.
// `node bench/web_documents.mjs <web dir>`; used by bench/web_operations.py.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const web = path.resolve(process.argv[2]);
const require = createRequire(path.join(web, "package.json"));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const { InMemoryCache } = await load("@apollo/client");
const { print } = await load("graphql");
const operations = await import(
  pathToFileURL(path.join(web, "src", "operations.js")).href
);

const cache = new InMemoryCache();
const documents = {};
for (const [name, value] of Object.entries(operations)) {
  if (value?.kind === "Document")
    documents[name] = print(cache.transformDocument(value));
}
process.stdout.write(JSON.stringify(documents));
