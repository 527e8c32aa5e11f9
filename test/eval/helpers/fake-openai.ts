/** A tiny OpenAI-compatible chat server on 127.0.0.1 whose answers the test chooses. */
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface ChatRequestBody {
  model: string;
  messages: Array<{ role: string; content: string | Array<Record<string, any>> }>;
  temperature?: number;
  top_p?: number;
  n?: number;
  max_tokens?: number;
}

export type FakeReply =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { texts: string[]; delayMs?: number }
  /** Never answers (the client's timeout must fire). */
  | { hang: true };

export interface FakeServer {
  url: string;
  requests: ChatRequestBody[];
  close(): Promise<void>;
}

/** The prompt text of a chat request (all text parts joined). */
export function promptText(body: ChatRequestBody): string {
  return body.messages.map((m) => (typeof m.content === 'string' ? m.content : m.content.map((p) => (p.type === 'text' ? p.text : '')).join(''))).join('\n');
}

export async function startFakeOpenAI(
  reply: (body: ChatRequestBody, index: number) => FakeReply | Promise<FakeReply>,
  models: string[] = ['fake-model'],
): Promise<FakeServer> {
  const requests: ChatRequestBody[] = [];
  const sockets = new Set<import('net').Socket>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'test' })) }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequestBody;
    const index = requests.push(body) - 1;
    const r = await reply(body, index);
    if ('hang' in r) return; // left open; closed by close()
    if ('status' in r) {
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
      res.end(JSON.stringify(r.body ?? { error: { message: `injected ${r.status}` } }));
      return;
    }
    if (r.delayMs) await new Promise((ok) => setTimeout(ok, r.delayMs));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${index}`,
        object: 'chat.completion',
        created: 0,
        model: body.model,
        choices: r.texts.map((text, i) => ({ index: i, message: { role: 'assistant', content: text }, finish_reason: 'stop' })),
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

/** A loopback port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}
