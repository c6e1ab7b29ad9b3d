import type { ErrorLike } from '@apollo/client';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

// Problem is what the app shows of a failed request: usersgraph puts a
// stable code in every error's extensions.code, and the seconds to wait in
// extensions.retryAfter when the code is RATE_LIMITED.
export interface Problem {
  code: string | null;
  message: string;
  retryAfter: number | null;
}

export function describeError(error: ErrorLike): Problem {
  if (CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    const code = first?.extensions?.code;
    const retryAfter = first?.extensions?.retryAfter;
    return {
      code: typeof code === 'string' ? code : null,
      message: first?.message ?? error.message,
      retryAfter: typeof retryAfter === 'number' ? retryAfter : null,
    };
  }
  if (ServerError.is(error)) {
    return { code: `HTTP_${error.statusCode}`, message: error.message, retryAfter: null };
  }
  return { code: null, message: error.message, retryAfter: null };
}

// advice is the sentence a person reads for a problem.
export function advice(p: Problem, secondsLeft: number): string {
  switch (p.code) {
    case 'UNAUTHENTICATED':
      return 'The API key was not accepted: enter a valid X-API-Key above.';
    case 'RATE_LIMITED':
      return secondsLeft > 0
        ? `Too many requests to Cognigy: you can retry in ${secondsLeft} s.`
        : 'Too many requests to Cognigy: you can retry now.';
    default:
      return p.message;
  }
}
