// Validates every GraphQL document the page sends against a schema SDL file:
//   node scripts/check-operations.mjs ../schema.graphql
// Exit 0 when all are valid, 1 (listing the errors) otherwise.
import { readFileSync } from 'node:fs';
import { buildSchema, validate } from 'graphql';

import * as operations from '../src/operations.js';

const schema = buildSchema(readFileSync(process.argv[2], 'utf8'));
let checked = 0;
let invalid = 0;
for (const [name, document] of Object.entries(operations)) {
  if (!document?.definitions?.some((definition) => definition.kind === 'OperationDefinition')) {
    continue;
  }
  checked += 1;
  const errors = validate(schema, document);
  if (errors.length) {
    invalid += 1;
    console.log(`${name}: ${errors.map((error) => error.message).join('; ')}`);
  }
}
console.log(`${checked} operations checked, ${invalid} invalid`);
process.exit(invalid ? 1 : 0);
