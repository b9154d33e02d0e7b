/**
 * A client for the OpenAI chat-completions API as local servers speak it (llama.cpp's `llama-server`,
 * Ollama's `/v1`, vLLM, LM Studio): POST `{baseUrl}/chat/completions` with `model`, `messages`,
 * `temperature`, `max_tokens`; the answer is `choices[0].message.content`. A multimodal explainer gets
 * images as `image_url` content parts holding `data:` URIs, the form all of these servers accept for
 * vision models, so nothing leaves the machine and no file server is needed.
 *
 * Every failure (unreachable, timeout, HTTP error, a body that is not a chat completion) is one
 * OcularError line naming the endpoint, so a job fails with a reason instead of a stack.
 */
import { z } from 'zod';
import { OcularError, errorMessage } from '../errors.js';

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

export interface ChatEndpoint {
  /** Base URL up to and including `/v1`, e.g. http://127.0.0.1:8080/v1. */
  url: string;
  model: string;
  /** Whether the model reads images (then examples carry patch crops and heatmaps). */
  multimodal: boolean;
}

export interface ChatOptions {
  temperature?: number;
  maxTokens?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const completionSchema = z.object({
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullable().optional() }), finish_reason: z.string().nullable().optional() }))
    .min(1),
  model: z.string().optional(),
});

/** Validates an endpoint's URL: http(s) only, no credentials in it. */
export function checkEndpointUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OcularError('invalid_request', `"${url}" is not a URL; give the server's base URL, e.g. http://127.0.0.1:8080/v1.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new OcularError('invalid_request', `The chat endpoint must be http or https, not ${u.protocol}`);
  if (u.username || u.password) throw new OcularError('invalid_request', 'The chat endpoint URL must not carry credentials.');
  return u;
}

export class ChatClient {
  constructor(readonly endpoint: ChatEndpoint) {
    checkEndpointUrl(endpoint.url);
  }

  private get completionsUrl(): string {
    return `${this.endpoint.url.replace(/\/+$/, '')}/chat/completions`;
  }

  /** One completion; returns the assistant's text. */
  async complete(messages: ChatMessage[], options: ChatOptions = {}): Promise<string> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 120_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const where = `${this.completionsUrl} (model ${this.endpoint.model})`;
    let res: Response;
    try {
      res = await fetch(this.completionsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          model: this.endpoint.model,
          messages,
          temperature: options.temperature ?? 0,
          max_tokens: options.maxTokens ?? 512,
          stream: false,
        }),
        signal,
      });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      if (timeout.aborted) throw new OcularError('internal', `The chat endpoint ${where} did not answer in time.`);
      throw new OcularError('internal', `Cannot reach the chat endpoint ${where}: ${errorMessage((err as Error).cause ?? err)}`);
    }
    const text = await res.text();
    if (!res.ok)
      throw new OcularError(
        'internal',
        `The chat endpoint ${where} answered HTTP ${res.status}: ${text.slice(0, 200).replace(/\s+/g, ' ')}`,
      );
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new OcularError('internal', `The chat endpoint ${where} answered something that is not JSON.`);
    }
    const parsed = completionSchema.safeParse(body);
    if (!parsed.success) throw new OcularError('internal', `The chat endpoint ${where} answered JSON that is not a chat completion.`);
    const content = parsed.data.choices[0]!.message.content;
    if (content === null || content === undefined || content.trim() === '')
      throw new OcularError('internal', `The chat endpoint ${where} answered an empty message.`);
    return content;
  }
}

/** A PNG as a data URI for an `image_url` part. */
export const pngDataUri = (png: Buffer): string => `data:image/png;base64,${png.toString('base64')}`;
