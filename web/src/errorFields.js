// The error branches of a mutation's result union, written once for every operations file (a
// module of its own, so the files that operations.js re-exports need not import it back).
// Only spreads that can match the union may be written (GraphQL rejects impossible ones).
// The error's `message` is aliased: it would clash with SendMessagePayload.message.
export function errorFields(...withField) {
  const extra = {
    ValidationError: 'field',
    Conflict: 'field',
    RateLimited: 'retryAfter',
  };
  return `
    ... on Error {
      errorMessage: message
      code
    }
    ${withField.map((type) => `... on ${type} { ${extra[type]} }`).join('\n')}
  `;
}
