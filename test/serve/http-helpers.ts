import * as http from 'http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export function request(
  url: string,
  method: string,
  body?: unknown,
  options: { agent?: http.Agent; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const req = http.request(url, { method, agent: options.agent, headers: { 'content-type': 'application/json', ...(options.headers ?? {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export const post = (url: string, body?: unknown, options?: Parameters<typeof request>[3]) => request(url, 'POST', body, options);
