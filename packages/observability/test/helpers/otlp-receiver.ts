import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as the OTLP/HTTP JSON exporter sends it, flattened with its scope name. */
export interface ReceivedSpan {
  scope: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}

/** A real OTLP/HTTP receiver: accepts `POST /v1/traces` with JSON bodies and keeps every span. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly contentTypes: string[] = [];
  #server: Server | undefined;

  async start(): Promise<string> {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.contentTypes.push(String(request.headers['content-type']));
        if (request.url === '/v1/traces') this.#decode(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  #decode(body: string): void {
    const payload = JSON.parse(body) as {
      resourceSpans: {
        scopeSpans: {
          scope: { name: string };
          spans: (Omit<ReceivedSpan, 'attributes' | 'scope'> & {
            attributes?: { key: string; value: OtlpValue }[];
          })[];
        }[];
      }[];
    };
    for (const resource of payload.resourceSpans) {
      for (const scope of resource.scopeSpans) {
        for (const span of scope.spans) {
          const attributes: Record<string, unknown> = {};
          for (const { key, value } of span.attributes ?? []) {
            attributes[key] =
              value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
          }
          this.spans.push({ ...span, scope: scope.scope.name, attributes });
        }
      }
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}
