/**
 * The last few lines a child process wrote to stderr, kept so that when it dies the error the user
 * sees can say why (a missing shared library, a V8 fatal error) instead of only an exit code.
 */
export class OutputTail {
  private text = '';

  constructor(private readonly maxChars = 2000) {}

  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-2 * this.maxChars);
  }

  /** The tail as whole lines, at most maxChars long; '' when nothing was written. */
  lines(): string {
    const trimmed = this.text.trimEnd();
    if (trimmed.length <= this.maxChars) return trimmed;
    const cut = trimmed.slice(-this.maxChars);
    const newline = cut.indexOf('\n');
    return newline === -1 ? cut : cut.slice(newline + 1);
  }

  /** '. Its last output:\n<tail>' to append to a message, or '' when there is nothing to add. */
  suffix(): string {
    const tail = this.lines();
    return tail ? `. Its last output:\n${tail}` : '';
  }
}
