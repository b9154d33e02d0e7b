/**
 * Workspace settings: one JSON value per key in the `settings` table, each validated by its schema on
 * read and write (a hand-edited or older value that no longer fits reads as unset, never as garbage).
 */
import type { z } from 'zod';
import { chatEndpointSchema } from '../../contract/contract.js';
import type { Db } from './sqlite.js';

const SETTINGS = {
  /** The chat-completions endpoint auto-interpretation uses. */
  'autointerp.endpoint': chatEndpointSchema,
} as const;
type Key = keyof typeof SETTINGS;
type Value<K extends Key> = z.infer<(typeof SETTINGS)[K]>;

export class Settings {
  constructor(private readonly db: Db) {}

  get<K extends Key>(key: K): Value<K> | null {
    const r = this.db.prepare('SELECT value_json FROM settings WHERE key = ?').get(key) as { value_json: string } | undefined;
    if (!r) return null;
    const parsed = SETTINGS[key].safeParse(JSON.parse(r.value_json));
    return parsed.success ? (parsed.data as Value<K>) : null;
  }

  set<K extends Key>(key: K, value: Value<K> | null): Value<K> | null {
    if (value === null) this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
    else {
      const v = SETTINGS[key].parse(value);
      this.db
        .prepare('INSERT INTO settings (key, value_json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json')
        .run(key, JSON.stringify(v));
    }
    return this.get(key);
  }
}
