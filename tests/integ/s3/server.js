'use strict';
/*
 * A local S3 server for xcap's tests: s3rver on loopback behind a proxy that
 * verifies every request's AWS Signature V4, which s3rver itself does not do
 * (it only looks the access key id up).
 *
 * The proxy recomputes the signature with the AWS SDK's signer
 * (@smithy/signature-v4) over the headers the client says it signed, checks
 * x-amz-content-sha256 (and Content-MD5) against the body, and answers S3's
 * own errors on a mismatch: 403 SignatureDoesNotMatch, 403
 * InvalidAccessKeyId, 400 XAmzContentSHA256Mismatch, 400 BadDigest, 403
 * AccessDenied (no signature). Accepted requests go to s3rver unchanged.
 *
 * Usage: node server.js --dir DIR [--bucket NAME]... [--key ID:SECRET]...
 *                       [--region REGION]...
 * Prints "ready PORT" (the proxy's port on 127.0.0.1) once both listen.
 * Defaults: key S3RVER:S3RVER, regions us-east-1 and auto.
 *
 * Fault injection for the tests, on the proxy's port, without signature:
 *   POST /__xcap_test/down?after=N&ms=D  after N more S3 requests, stop
 *        listening and drop every connection for D ms (a server restart)
 *   POST /__xcap_test/fail?count=N&status=S  answer the next N requests with
 *        status S and an S3 error body (503: SlowDown, else InternalError)
 *   POST /__xcap_test/hang?count=N  never answer the next N requests
 *   GET  /__xcap_test/stats  {"requests": N, "refused": N} since the start
 *   POST /__xcap_test/reset  zeroes the counters and cancels pending faults
 */
const crypto = require('crypto');
const http = require('http');
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');
const { SignatureV4 } = require('@smithy/signature-v4');

const BODY_MAX = 64 << 20; /* above the largest part the tests send */
const SKEW_MS = 15 * 60 * 1000; /* S3's limit on the request time */

function toBuffer(data) {
	if (typeof data === 'string')
		return Buffer.from(data, 'utf8');
	return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/* The hash interface the signer wants, on node's crypto. */
class Sha256 {
	constructor(secret) {
		this.h = secret ? crypto.createHmac('sha256', toBuffer(secret)) :
				  crypto.createHash('sha256');
	}
	update(data) {
		this.h.update(toBuffer(data));
	}
	async digest() {
		return new Uint8Array(this.h.digest());
	}
}

function parseArgs(argv) {
	const o = { dir: null, buckets: [], keys: new Map(), regions: new Set() };

	for (let i = 0; i < argv.length; i += 2) {
		const v = argv[i + 1];

		if (v === undefined)
			throw new Error(`${argv[i]}: missing value`);
		switch (argv[i]) {
		case '--dir': o.dir = v; break;
		case '--bucket': o.buckets.push(v); break;
		case '--region': o.regions.add(v); break;
		case '--key': {
			const c = v.indexOf(':');

			if (c < 1)
				throw new Error('--key is ID:SECRET');
			o.keys.set(v.slice(0, c), v.slice(c + 1));
			break;
		}
		default: throw new Error(`unknown option ${argv[i]}`);
		}
	}
	if (!o.dir)
		throw new Error('--dir is required');
	if (!o.keys.size)
		o.keys.set('S3RVER', 'S3RVER');
	if (!o.regions.size)
		o.regions = new Set(['us-east-1', 'auto']);
	return o;
}

function xmlEscape(s) {
	return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function sendError(res, status, code, message) {
	const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + xmlEscape(code) +
		     '</Code><Message>' + xmlEscape(message) + '</Message></Error>';

	res.writeHead(status, { 'content-type': 'application/xml',
				'content-length': Buffer.byteLength(body) });
	res.end(body);
}

class Refusal extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

/* "AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex" */
function parseAuthorization(value) {
	const m = /^AWS4-HMAC-SHA256 (.*)$/.exec(value || '');
	const fields = {};

	if (!m)
		throw new Refusal(403, 'AccessDenied', 'Only AWS4-HMAC-SHA256 signed requests are accepted');
	for (const part of m[1].split(',')) {
		const eq = part.indexOf('=');

		if (eq > 0)
			fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
	}
	const scope = (fields.Credential || '').split('/');
	if (scope.length !== 5 || scope[4] !== 'aws4_request' || !fields.SignedHeaders ||
	    !/^[0-9a-f]{64}$/.test(fields.Signature || ''))
		throw new Refusal(400, 'AuthorizationHeaderMalformed',
				  'The authorization header is malformed');
	return { keyId: scope[0], date: scope[1], region: scope[2], service: scope[3],
		 signedHeaders: fields.SignedHeaders.split(';'), signature: fields.Signature };
}

/* 20261129T013325Z -> Date */
function parseAmzDate(s) {
	const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');

	if (!m)
		throw new Refusal(403, 'AccessDenied', 'x-amz-date is missing or malformed');
	return new Date(Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

function checkPayload(req, body) {
	const claimed = req.headers['x-amz-content-sha256'];
	const md5 = req.headers['content-md5'];

	if (!claimed)
		throw new Refusal(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
	if (claimed !== 'UNSIGNED-PAYLOAD' &&
	    claimed !== crypto.createHash('sha256').update(body).digest('hex'))
		throw new Refusal(400, 'XAmzContentSHA256Mismatch',
				  "The provided 'x-amz-content-sha256' header does not match what was computed.");
	if (md5 !== undefined && md5 !== crypto.createHash('md5').update(body).digest('base64'))
		throw new Refusal(400, 'BadDigest',
				  'The Content-MD5 you specified did not match what we received.');
}

/* Recomputes the signature from the signed headers the request names; throws a Refusal. */
async function verify(opts, req, body) {
	const auth = parseAuthorization(req.headers.authorization);
	const secret = opts.keys.get(auth.keyId);
	const url = new URL(req.url, 'http://' + (req.headers.host || 'localhost'));
	const date = parseAmzDate(req.headers['x-amz-date']);
	const headers = {};
	const query = {};

	if (secret === undefined)
		throw new Refusal(403, 'InvalidAccessKeyId',
				  'The AWS Access Key Id you provided does not exist in our records.');
	if (!opts.regions.has(auth.region) || auth.service !== 's3')
		throw new Refusal(400, 'AuthorizationHeaderMalformed',
				  `The authorization header is malformed; the region '${auth.region}' is wrong`);
	if (Math.abs(Date.now() - date.getTime()) > SKEW_MS)
		throw new Refusal(403, 'RequestTimeTooSkewed',
				  'The difference between the request time and the current time is too large.');
	/* S3 wants host, the date, the payload hash and every x-amz-* header signed. */
	for (const name of ['host', 'x-amz-date', 'x-amz-content-sha256'].concat(
		     Object.keys(req.headers).filter((h) => h.startsWith('x-amz-')))) {
		if (!auth.signedHeaders.includes(name))
			throw new Refusal(403, 'AccessDenied', `The header ${name} is not signed`);
	}
	for (const name of auth.signedHeaders) {
		if (req.headers[name] === undefined)
			throw new Refusal(403, 'AccessDenied', `The signed header ${name} is missing`);
		headers[name] = req.headers[name];
	}
	checkPayload(req, body);
	for (const [k, v] of url.searchParams)
		query[k] = v;

	const signer = new SignatureV4({
		credentials: { accessKeyId: auth.keyId, secretAccessKey: secret,
			       sessionToken: headers['x-amz-security-token'] },
		region: auth.region, service: 's3', sha256: Sha256,
		uriEscapePath: false, applyChecksum: false,
	});
	const signed = await signer.sign({
		method: req.method, protocol: 'http:', hostname: url.hostname,
		port: url.port ? +url.port : undefined, path: url.pathname, query, headers,
	}, { signingDate: date, signableHeaders: new Set(auth.signedHeaders) });
	const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];

	if (!crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(auth.signature)))
		throw new Refusal(403, 'SignatureDoesNotMatch',
				  'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
}

function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		let size = 0;

		req.on('data', (c) => {
			size += c.length;
			if (size > BODY_MAX) {
				reject(new Refusal(400, 'EntityTooLarge', 'The test proxy takes at most 64 MiB'));
				req.destroy();
				return;
			}
			chunks.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(chunks)));
		req.on('error', reject);
	});
}

function forward(backendPort, req, body, res) {
	const headers = { ...req.headers, 'content-length': body.length };

	delete headers['transfer-encoding'];
	delete headers.expect;
	const up = http.request({ host: '127.0.0.1', port: backendPort, method: req.method,
				  path: req.url, headers }, (r) => {
		res.writeHead(r.statusCode, r.headers);
		r.pipe(res);
	});
	up.on('error', (e) => sendError(res, 500, 'InternalError', `backend: ${e.message}`));
	up.end(body);
}

class Faults {
	constructor() {
		this.reset();
	}
	reset() {
		this.stats = { requests: 0, refused: 0 };
		this.downAfter = -1;
		this.downMs = 0;
		this.failCount = 0;
		this.failStatus = 500;
		this.hangCount = 0;
	}
	control(url, res, proxy) {
		const p = url.searchParams;
		const n = (k, d) => (p.has(k) ? Number(p.get(k)) : d);

		switch (url.pathname) {
		case '/__xcap_test/down':
			this.downAfter = n('after', 0);
			this.downMs = n('ms', 1000);
			break;
		case '/__xcap_test/fail':
			this.failCount = n('count', 1);
			this.failStatus = n('status', 500);
			break;
		case '/__xcap_test/hang':
			this.hangCount = n('count', 1);
			break;
		case '/__xcap_test/reset':
			this.reset();
			break;
		case '/__xcap_test/stats':
			break;
		default:
			res.writeHead(404);
			res.end();
			return;
		}
		if (this.downAfter === 0)
			res.on('finish', () => proxy.goDown(this.downMs));
		res.writeHead(200, { 'content-type': 'application/json' });
		res.end(JSON.stringify(this.stats) + '\n');
	}
	/* Runs before a request is served; true when the fault took the request. */
	inject(req, res, proxy) {
		if (this.hangCount > 0) {
			this.hangCount--;
			req.resume();
			return true;
		}
		if (this.failCount > 0) {
			this.failCount--;
			req.resume();
			if (this.failStatus === 503)
				sendError(res, 503, 'SlowDown', 'Please reduce your request rate.');
			else
				sendError(res, this.failStatus, 'InternalError',
					  'We encountered an internal error. Please try again.');
			return true;
		}
		if (this.downAfter > 0 && --this.downAfter === 0) {
			/* This request is the last one served before the stop. */
			res.on('finish', () => proxy.goDown(this.downMs));
		}
		return false;
	}
}

class Proxy {
	constructor(opts, backendPort) {
		this.opts = opts;
		this.backendPort = backendPort;
		this.faults = new Faults();
		this.sockets = new Set();
		this.server = http.createServer((req, res) => this.handle(req, res));
		this.server.on('connection', (s) => {
			this.sockets.add(s);
			s.on('close', () => this.sockets.delete(s));
		});
	}
	listen(port) {
		return new Promise((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(port, '127.0.0.1', () => {
				this.server.removeListener('error', reject);
				this.port = this.server.address().port;
				resolve(this.port);
			});
		});
	}
	goDown(ms) {
		this.faults.downAfter = -1;
		this.server.close();
		for (const s of this.sockets)
			s.destroy();
		setTimeout(() => this.listen(this.port).catch((e) => {
			console.error(`cannot listen again on ${this.port}: ${e.message}`);
			process.exit(1);
		}), ms);
	}
	async handle(req, res) {
		const url = new URL(req.url, 'http://localhost');

		if (url.pathname.startsWith('/__xcap_test/')) {
			req.resume();
			this.faults.control(url, res, this);
			return;
		}
		this.faults.stats.requests++;
		if (this.faults.inject(req, res, this))
			return;
		try {
			const body = await readBody(req);

			await verify(this.opts, req, body);
			forward(this.backendPort, req, body, res);
		} catch (e) {
			this.faults.stats.refused++;
			if (e instanceof Refusal)
				sendError(res, e.status, e.code, e.message);
			else
				sendError(res, 500, 'InternalError', e.message);
		}
	}
}

async function main() {
	const opts = parseArgs(process.argv.slice(2));
	const s3 = new S3rver({
		address: '127.0.0.1', port: 0, silent: true, directory: opts.dir,
		configureBuckets: opts.buckets.map((name) => ({ name })),
	});

	for (const [id, secret] of opts.keys)
		AWSAccount.DUMMY_ACCOUNT.createKeyPair(id, secret);
	const backend = await s3.run();
	const proxy = new Proxy(opts, backend.port);
	const port = await proxy.listen(0);

	console.log(`ready ${port}`);
	const stop = () => process.exit(0);
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
}

main().catch((e) => {
	console.error(`s3 test server: ${e.message}`);
	process.exit(1);
});
