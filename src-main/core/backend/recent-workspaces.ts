/** The list of recently opened workspaces, kept in the user's config folder (not in any workspace). */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';

export interface RecentWorkspace {
  path: string;
  openedAt: string;
}

const MAX_RECENT = 12;

export class RecentWorkspaces {
  private readonly file: string;

  constructor(configDir: string) {
    this.file = path.join(configDir, 'recent-workspaces.json');
  }

  list(): RecentWorkspace[] {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as unknown;
      if (!Array.isArray(parsed)) return [];
      return parsed.filter((r): r is RecentWorkspace => typeof r?.path === 'string' && typeof r?.openedAt === 'string');
    } catch {
      return []; // missing or unreadable: start a fresh list rather than failing the app
    }
  }

  remember(workspacePath: string): void {
    const next = [{ path: workspacePath, openedAt: new Date().toISOString() }, ...this.list().filter((r) => r.path !== workspacePath)];
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileAtomic(this.file, JSON.stringify(next.slice(0, MAX_RECENT), null, 2));
  }
}
