import { Writable } from 'node:stream';

/** A log destination that keeps every JSON line pino writes, parsed. */
export class LogSink extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  raw = '';

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    const text = chunk.toString();
    this.raw += text;
    for (const line of text.split('\n')) {
      if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    callback();
  }

  /** Lines with this message. */
  withMessage(message: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.msg === message);
  }
}
