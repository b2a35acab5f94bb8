// The capture format: NDJSON, one HAR 1.2 entry per line (http://www.softwareishard.com/blog/har-12-spec/),
// with tapwire's own data in underscore-prefixed vendor fields as HAR 1.2 allows. The writer (capture) and every
// reader (export, replay, import) share these shapes; nothing else about the file is assumed.
//
// A line is one trial: `request` is the client's request as forwarded, `response` the primary's answer, and
// `_tapwire.mirrors` the copies' answers. Bodies are text when they are valid UTF-8, else base64
// (`encoding: 'base64'`), and are kept up to the route's `capture.maxBodyBytes` (`_truncated` marks a cut).
// Every value has been redacted before it reaches a line (see ./redact.ts).

/** Format version of `_tapwire.v`; a reader refuses lines with a greater version. */
export const CAPTURE_FORMAT_VERSION = 1;

export interface HarNameValue {
  readonly name: string;
  readonly value: string;
}

export interface HarPostData {
  readonly mimeType: string;
  readonly text: string;
  /** HAR 1.2 allows `encoding` on content only; tapwire also sets it here when the body is not UTF-8. */
  readonly encoding?: 'base64';
  readonly params?: readonly HarNameValue[];
  /** the body was cut at maxBodyBytes; `bodySize` on the request still holds the full length */
  readonly _truncated?: boolean;
  /** set when the text was not written, with the reason (JSON that does not parse cannot be redacted) */
  readonly _withheld?: string;
}

export interface HarRequest {
  readonly method: string;
  /** absolute URL: scheme://host/path?query, the host being the client's Host header */
  readonly url: string;
  readonly httpVersion: string;
  readonly cookies: readonly HarNameValue[];
  readonly headers: readonly HarNameValue[];
  readonly queryString: readonly HarNameValue[];
  readonly postData?: HarPostData;
  /** -1 when unknown */
  readonly headersSize: number;
  /** body bytes the client sent (all of them, even past the cap); 0 without a body */
  readonly bodySize: number;
}

export interface HarContent {
  /** decoded length when known, else the bytes seen */
  readonly size: number;
  readonly mimeType: string;
  readonly text?: string;
  readonly encoding?: 'base64';
  readonly _truncated?: boolean;
  /** set when the text was not written, with the reason (see HarPostData._withheld) */
  readonly _withheld?: string;
}

export interface HarResponse {
  readonly status: number;
  readonly statusText: string;
  readonly httpVersion: string;
  readonly cookies: readonly HarNameValue[];
  readonly headers: readonly HarNameValue[];
  readonly content: HarContent;
  readonly redirectURL: string;
  readonly headersSize: number;
  readonly bodySize: number;
}

export interface HarTimings {
  readonly blocked?: number;
  readonly dns?: number;
  readonly connect?: number;
  readonly send: number;
  /** ms to response headers */
  readonly wait: number;
  /** ms from headers to the last body byte */
  readonly receive: number;
}

/** One copy's answer in a captured trial. */
export interface CapturedCopy {
  readonly upstream: string;
  readonly role: 'mirror' | 'secondary';
  /** the copy's outcome (delivered, timeout, ...) */
  readonly outcome: string;
  /** absent when the copy got no answer */
  readonly response?: HarResponse;
  readonly timings?: HarTimings;
  /** total ms of the exchange */
  readonly time?: number;
}

export interface TapwireEntryData {
  readonly v: number;
  /** the trial id */
  readonly id: string;
  readonly route: string;
  /** upstream name of the primary */
  readonly primary: string;
  /** epoch ms the client request arrived (startedDateTime carries the same instant as ISO 8601) */
  readonly at: number;
  /** set when the primary failed (a TW_ERR_* code); `response.status` is then tapwire's own answer or 0 */
  readonly error?: string;
  readonly mirrors: readonly CapturedCopy[];
  /** where the entry came from when it was imported: 'har' | 'gor' */
  readonly source?: string;
}

export interface HarEntry {
  readonly startedDateTime: string;
  /** total ms of the primary exchange */
  readonly time: number;
  readonly request: HarRequest;
  readonly response: HarResponse;
  readonly cache: Record<string, never>;
  readonly timings: HarTimings;
  readonly serverIPAddress?: string;
  readonly _tapwire?: TapwireEntryData;
}

/** A whole HAR 1.2 document, as `tapwire export --har` writes and browsers export. */
export interface HarLog {
  readonly log: {
    readonly version: '1.2';
    readonly creator: { readonly name: string; readonly version: string };
    readonly pages?: readonly unknown[];
    readonly entries: readonly HarEntry[];
  };
}
