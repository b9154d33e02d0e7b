/** A field's default as its zod schema declares it, so help texts and forms never restate it. */
import type { z } from 'zod';

/** The value `schema` gives when the field is left out (undefined when it has no default). */
export function defaultOf<T>(schema: z.ZodType<T>): T | undefined {
  const r = schema.safeParse(undefined);
  return r.success ? r.data : undefined;
}
