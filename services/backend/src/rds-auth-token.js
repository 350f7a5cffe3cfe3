'use strict';
// RDS IAM authentication without the AWS SDK: the token is a SigV4 presigned URL, built
// byte for byte as botocore's generate_db_auth_token builds it (tests/unit/test_rds_auth_token.py
// compares the two), and the credentials come from the environment or ECS's endpoint.
//
// Why not @aws-sdk/rds-signer, which does the same: measured with npm ci --omit=dev on this
// package.json, 3.1178.0 takes the production node_modules from 18 packages and 3,877,191 bytes
// to 44 and 11,680,409 (+26 packages, +7.8 MB, three times as much), mostly the SDK's whole
// credential chain (profiles, SSO, web identity, IMDS, Cognito, STS and SSO clients) that an ECS
// task never reaches; @smithy/signature-v4 alone (+4, +3.9 MB) would replace only the signing.
// Its tokens are this module's (same query parameters and signature; it lists them sorted, and
// signs a mixed-case host as given where botocore and this module lower it). What a task needs
// of it is here: the session token, ECS's relative and full URIs (with the authorization token
// or its file), one shared fetch, and a refresh 5 minutes before expiry (rds-signer refreshes at
// 15; pg sends the token at once and RDS checks it only at sign-in). Switch if the backend
// calls another AWS API (the SDK's chain then comes anyway) or runs where credentials come from
// elsewhere (EKS IRSA, EC2): docs/image-contract.md, "The reference services' code".

const crypto = require('node:crypto');
const fs = require('node:fs/promises');

const SERVICE = 'rds-db';
const EXPIRES_SECONDS = 900;
const ALGORITHM = 'AWS4-HMAC-SHA256';
// botocore signs the (empty) body of the presigned GET; the SDKs agree on this hash.
const EMPTY_BODY_SHA256 = sha256Hex('');

const ECS_ENDPOINT_BASE = 'http://169.254.170.2';
// Container credentials over plain http only from addresses that cannot leave the host or
// task (what the AWS SDKs allow), so a mistyped FULL_URI cannot send the token elsewhere.
const PLAIN_HTTP_HOSTS = new Set(['169.254.170.2', '169.254.170.23', '[fd00:ec2::23]', 'localhost', '[::1]']);
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;
const FETCH_TIMEOUT_MS = 2000;
const FETCH_ATTEMPTS = 3;

function sha256Hex(text) {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

function hmac(key, text) {
  return crypto.createHmac('sha256', key).update(text, 'utf8').digest();
}

// RFC 3986 (what botocore's percent_encode does): encodeURIComponent also spares !'()*.
function encode(value) {
  return encodeURIComponent(String(value)).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

// 20240102T030405Z
function amzDate(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

function compareText(a, b) {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

function required(name, value) {
  if (value === undefined || value === null || value === '') {
    throw new Error(`authToken: ${name} is required`);
  }
  return value;
}

function authToken({ hostname, port, username, region, credentials, date = new Date() }) {
  required('hostname', hostname);
  required('port', port);
  required('username', username);
  required('region', region);
  required('credentials.accessKeyId', credentials && credentials.accessKeyId);
  required('credentials.secretAccessKey', credentials && credentials.secretAccessKey);
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new Error('authToken: date must be a valid Date');
  }

  const timestamp = amzDate(date);
  const day = timestamp.slice(0, 8);
  const scope = `${day}/${region}/${SERVICE}/aws4_request`;
  // The order botocore writes them in: operation parameters, then its auth parameters.
  const params = [
    ['Action', 'connect'],
    ['DBUser', username],
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', `${credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', timestamp],
    ['X-Amz-Expires', String(EXPIRES_SECONDS)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  if (credentials.sessionToken) {
    params.push(['X-Amz-Security-Token', credentials.sessionToken]);
  }
  const encoded = params.map(([key, value]) => [encode(key), encode(value)]);
  const query = encoded.map(([key, value]) => `${key}=${value}`).join('&');
  const canonicalQuery = [...encoded]
    .sort((a, b) => compareText(a[0], b[0]) || compareText(a[1], b[1]))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');

  // The signed host header is lower case and drops https's default port, as botocore's is.
  const host = Number(port) === 443 ? hostname.toLowerCase() : `${hostname.toLowerCase()}:${port}`;
  const canonicalRequest = ['GET', '/', canonicalQuery, `host:${host}`, '', 'host', EMPTY_BODY_SHA256].join('\n');
  const stringToSign = [ALGORITHM, timestamp, scope, sha256Hex(canonicalRequest)].join('\n');

  let key = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [region, SERVICE, 'aws4_request']) {
    key = hmac(key, part);
  }
  const signature = crypto.createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');

  return `${hostname}:${port}/?${query}&X-Amz-Signature=${signature}`;
}

class CredentialsError extends Error {}

function fromEnvironment(env) {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId && !secretAccessKey) return null;
  if (!accessKeyId || !secretAccessKey) {
    throw new CredentialsError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
  }
  return { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined };
}

// Where ECS (or a test, through endpointBase) serves this task role's credentials, or null.
function containerEndpoint(env, endpointBase) {
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) {
    return new URL(`${endpointBase}${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}`);
  }
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    let url;
    try {
      url = new URL(env.AWS_CONTAINER_CREDENTIALS_FULL_URI);
    } catch {
      throw new CredentialsError('AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL');
    }
    const loopback = /^127(\.\d{1,3}){3}$/.test(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (loopback || PLAIN_HTTP_HOSTS.has(url.hostname)))) {
      throw new CredentialsError(
        `AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or ECS/EKS address (got ${url.host})`,
      );
    }
    return url;
  }
  return null;
}

// The token file wins over the variable, as in the SDKs: EKS Pod Identity rotates the file.
async function authorizationHeader(env) {
  let token;
  if (env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) {
    token = (await fs.readFile(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, 'utf8')).trim();
  } else if (env.AWS_CONTAINER_AUTHORIZATION_TOKEN) {
    token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  }
  if (token !== undefined && /[\r\n]/.test(token)) {
    throw new CredentialsError('the container authorization token contains a line break');
  }
  return token;
}

async function fetchContainerCredentials(url, env) {
  const token = await authorizationHeader(env);
  const headers = token === undefined ? {} : { Authorization: token };
  let lastError;
  for (let attempt = 1; attempt <= FETCH_ATTEMPTS; attempt += 1) {
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!response.ok) {
        const error = new CredentialsError(`container credentials endpoint answered ${response.status}`);
        // A refusal (4xx) will not get better by asking again.
        error.final = response.status < 500;
        throw error;
      }
      const body = await response.json();
      if (!body.AccessKeyId || !body.SecretAccessKey) {
        throw new CredentialsError('container credentials endpoint returned no AccessKeyId/SecretAccessKey');
      }
      return {
        accessKeyId: body.AccessKeyId,
        secretAccessKey: body.SecretAccessKey,
        sessionToken: body.Token || undefined,
        expiration: body.Expiration ? new Date(body.Expiration) : undefined,
      };
    } catch (error) {
      lastError = error;
      if (error.final) break;
    }
  }
  throw new CredentialsError(`cannot get container credentials from ${url.origin}${url.pathname}: ${lastError.message}`);
}

// Returns an async function resolving to {accessKeyId, secretAccessKey, sessionToken}.
// endpointBase replaces ECS's link-local address for the relative URI; tests only.
function createCredentialProvider({ env = process.env, endpointBase = ECS_ENDPOINT_BASE, now = Date.now } = {}) {
  let cached = null;
  let pending = null;

  return async function credentials() {
    const fromEnv = fromEnvironment(env);
    if (fromEnv) return fromEnv;

    const url = containerEndpoint(env, endpointBase);
    if (!url) {
      throw new CredentialsError(
        'no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where ECS sets ' +
          'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI',
      );
    }
    if (cached && (!cached.expiration || cached.expiration.getTime() - REFRESH_BEFORE_EXPIRY_MS > now())) {
      return cached;
    }
    // Connections opened together share one request to the endpoint.
    if (!pending) {
      pending = fetchContainerCredentials(url, env)
        .then((fresh) => {
          cached = fresh;
          return fresh;
        })
        .finally(() => {
          pending = null;
        });
    }
    return pending;
  };
}

function regionFrom(env) {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new CredentialsError('no AWS region: set AWS_REGION or AWS_DEFAULT_REGION');
  return region;
}

module.exports = { authToken, createCredentialProvider, regionFrom, CredentialsError };
