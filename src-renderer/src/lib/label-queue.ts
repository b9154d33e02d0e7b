/**
 * Label saves, queued per feature. Keys at machine speed (2, a label, Enter, j, ...) produce several
 * saves for one feature in quick succession, and saves for the next feature before the last one has
 * answered. Each feature's saves run one after another, and each applies its change (status, text,
 * tags) to the label as the previous save left it, so no save is lost, none lands on another
 * feature, and features never wait for each other.
 */
import type { FeatureLabel, LabelStatus, RequestOf } from '@contract/contract';

export type LabelPatch = Partial<Pick<FeatureLabel, 'label' | 'tags' | 'confidence' | 'status'>>;

export interface LabelQueueDeps {
  /** Send one save (labels.set). */
  send: (req: RequestOf<'labels.set'>) => Promise<FeatureLabel>;
  /** The stored label of a feature not seen yet (so a status key does not wipe its text). */
  load: (feature: number) => Promise<FeatureLabel | null>;
  saved: (label: FeatureLabel) => void;
  failed: (err: unknown, feature: number) => void;
}

export class LabelQueue {
  private readonly chains = new Map<number, Promise<FeatureLabel | null>>();
  private readonly known = new Map<number, FeatureLabel | null>();

  constructor(
    private readonly saeId: number,
    private readonly deps: LabelQueueDeps,
  ) {}

  /** A label read from the backend; ignored while this feature has saves in flight (they are newer). */
  remember(feature: number, label: FeatureLabel | null): void {
    if (!this.chains.has(feature)) this.known.set(feature, label);
  }

  pending(feature: number): boolean {
    return this.chains.has(feature);
  }

  /** Queue a change to one feature's label; resolves with the saved label (null when the save failed). */
  save(feature: number, patch: LabelPatch, annotator: string): Promise<FeatureLabel | null> {
    const previous = this.chains.get(feature) ?? Promise.resolve(null);
    const next = previous.then(async () => {
      try {
        // A full edit (Enter in the editor) needs nothing stored; a status key keeps the stored text and tags.
        const complete =
          patch.label !== undefined && patch.tags !== undefined && patch.confidence !== undefined && patch.status !== undefined;
        const base = this.known.has(feature) ? this.known.get(feature)! : complete ? null : await this.deps.load(feature);
        const text = patch.label ?? base?.label ?? '';
        // Writing a label on an unlabelled feature labels it.
        const status: LabelStatus =
          patch.status ?? (base?.status === 'unlabelled' || !base ? (text.trim() ? 'labelled' : 'unlabelled') : base.status);
        const saved = await this.deps.send({
          saeId: this.saeId,
          feature,
          label: text,
          tags: patch.tags ?? base?.tags ?? [],
          confidence: patch.confidence !== undefined ? patch.confidence : (base?.confidence ?? null),
          status,
          annotator,
        });
        this.known.set(feature, saved);
        this.deps.saved(saved);
        return saved;
      } catch (err) {
        this.deps.failed(err, feature);
        return null;
      }
    });
    this.chains.set(feature, next);
    void next.then(() => {
      if (this.chains.get(feature) === next) this.chains.delete(feature);
    });
    return next;
  }
}
