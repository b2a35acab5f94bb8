// The built-in signature rules, as data: stable ids, categories, severities, the parts each inspects, an RE2
// pattern (linear time) and the literals a text must contain before the pattern runs. OWASP CRS is the model;
// every rule names its source. Patterns see normalized text (decoded, lower-cased: src/analysis/normalize.ts).
import type { Severity } from './types.ts';

export type Category = 'sqli' | 'xss' | 'traversal' | 'cmdi' | 'jndi' | 'ssrf' | 'scanner' | 'method' | 'custom';

export const CATEGORIES: readonly Category[] = ['sqli', 'xss', 'traversal', 'cmdi', 'jndi', 'ssrf', 'scanner', 'method', 'custom'];

/** For people: "SQL injection (sqli-union) in query from 203.0.113.7". */
export const CATEGORY_LABELS: Readonly<Record<Category, string>> = {
  sqli: 'SQL injection',
  xss: 'Cross-site scripting',
  traversal: 'Path traversal',
  cmdi: 'Command injection',
  jndi: 'JNDI lookup',
  ssrf: 'Server-side request forgery',
  scanner: 'Scanner user agent',
  method: 'Unusual method',
  custom: 'Custom signature',
};

/**
 * What a rule inspects: `path`, `query` (each name and value), `body` (JSON strings, form fields, multipart
 * fields, else the text), `method`, `header:NAME` (one of the request headers analysis keeps) or `header:*`.
 */
export type PartSelector = 'path' | 'query' | 'body' | 'method' | `header:${string}`;

/**
 * The text a rule's pattern sees; all are lower-cased, percent- and entity-decoded and NFKC-folded.
 * - std: backslashes read as `/`, `/./` collapsed
 * - sql: SQL comments (`/* … *\/`, MySQL `/*!50000 … *\/`) read as a space
 * - shell: quotes and backslashes removed (`w'h'o\am"i` → `whoami`)
 * - lookup: Log4j lookups resolved (`${${lower:j}ndi:` → `${jndi:`, `${::-j}` → `j`)
 */
export type View = 'std' | 'sql' | 'shell' | 'lookup';

/**
 * A literal the text must contain, or all of several (each a literal or any of a list). A rule runs when any of
 * its needles holds. The first element of an `all` is what the per-part prefilter looks for: put the rarest first.
 */
export type Needle = string | { readonly all: readonly (string | readonly string[])[] };

const all = (...xs: (string | readonly string[])[]): Needle => ({ all: xs });

export interface BuiltinRule {
  /** stable: used in config (`disable`), finding keys and docs */
  readonly id: string;
  readonly category: Category;
  readonly severity: Severity;
  readonly parts: readonly PartSelector[];
  /** RE2 syntax, written in lower case (the text is lower-cased) */
  readonly pattern: string;
  /** the pattern runs only when one of these holds; together they are necessary for a match */
  readonly needles: readonly Needle[];
  readonly view: View;
  readonly description: string;
  readonly reference: string;
}

const ARGS: readonly PartSelector[] = ['query', 'body'];
const ARGS_PATH: readonly PartSelector[] = ['path', 'query', 'body'];
const BROWSER_HEADERS: readonly PartSelector[] = ['header:user-agent', 'header:referer'];
const EVERYWHERE: readonly PartSelector[] = ['path', 'query', 'body', 'header:*'];

const r = String.raw;

/**
 * Commands an injected shell command typically starts with, with the arguments that make them unambiguous.
 * Bare `id` is separate (BARE_ID): `fields=name|id` and `sort=name;id` are ordinary lists.
 */
/** `id` after a separator that follows a non-letter (`127.0.0.1;id`, `||id`) or is followed by a space (`; id`). */
const BARE_ID = r`(?:(?:^|[^a-z_])[;|&]|[;|&]\s|\$\()\s*(?:/usr)?(?:/s?bin/)?id\s*(?:$|[;&#\n)])`;

const UNIX_WORDS = ['id', 'whoami', 'uname', 'ifconfig', 'ipconfig', 'netstat', 'ls', 'cat', 'more', 'less', 'head', 'tail', 'nl', 'tac', 'strings', 'xxd', 'od', 'base64', 'sleep', 'ping', 'wget', 'curl', 'fetch', 'lwp-download', 'tftp', 'nc', 'telnet', 'rm', 'chmod', 'python', 'perl', 'ruby', 'php', 'node', 'sh', 'echo', 'busybox'];
const BOOL_WORDS = ['or', 'and', '||', '&&'];
const COMPARISONS = ['=', '<', '>', 'like', 'regexp'];

const UNIX_COMMAND = r`(?:/usr)?(?:/s?bin/)?(?:(?:whoami|uname(?:\s+-\w+)*|ifconfig|ipconfig|netstat(?:\s+-\w+)*|ls(?:\s+-\w+)*(?:\s+[/~.][^\s;|&]*)?)\s*(?:$|[;&#\n)])|(?:cat|more|less|head|tail|nl|tac|strings|xxd|od|base64)\s+(?:-\S+\s+)*[^\s;|&]*(?:/etc/|/proc/|/var/|/home/|/root/|/tmp/|\.\./|/dev/|flag)|sleep\s+\d+(?:\.\d+)?\s*(?:$|[;&#\n)])|ping\s+(?:-\w+\s+)*-[cnwt]\s*\d+|(?:wget|curl|fetch|lwp-download|tftp)\s+(?:-\S+\s+)*(?:https?|ftp|tftp)://|(?:nc|ncat|netcat|telnet)\s+(?:-\w+\s+)*(?:[\w.-]+\s+\d{1,5}\b|-e\s)|rm\s+-\w*[rf]|chmod\s+(?:[0-7]{3,4}|[ugoa]*\+[rwxs]+)\s|(?:python[23]?|perl|ruby|php|node)\s+-[cer]\s|(?:ba|z|da|k)?sh\s+-[ci]\b|echo\s+[^;|&]*>\s*/|busybox\s)`;

/** Cloud metadata addresses, in every spelling an HTTP client accepts for 169.254.169.254. */
const METADATA_IP = r`(?:(?:169|0x0*a9|0+251)\.(?:254|0x0*fe|0+376)\.(?:169|0x0*a9|0+251)\.(?:254|0x0*fe|0+376)(?:\.(?:nip|sslip|xip)\.io)?|169\.254\.43518|169\.16689662|2852039166|0x0*a9fea9fe|0+25177524776|169\.254\.170\.2|100\.100\.100\.200|1684301000|0x0*646464c8|192\.0\.0\.192|(?:0:0:0:0:0|:):ffff:(?:169\.254\.169\.254|a9fe:a9fe)|fd00:ec2::254)`;
/** Cloud metadata host names: only as the host of a URL (`instance-data` alone is an ordinary word). */
const METADATA_NAME = r`(?:metadata\.google\.internal|metadata\.goog|metadata\.azure\.(?:com|internal)|metadata\.tencentyun\.com|instance-data(?:\.ec2\.internal)?)`;

export const BUILTIN_RULES: readonly BuiltinRule[] = [
  // ---- SQL injection (OWASP CRS 942xxx, CWE-89, CAPEC-66) ----
  {
    id: 'sqli-union',
    category: 'sqli',
    severity: 'high',
    parts: [...ARGS_PATH, ...BROWSER_HEADERS],
    pattern: r`\bunion(?:\s|\()+(?:all\s+|distinct\s+)?\(*\s*select\b`,
    needles: [all('union', 'select')],
    view: 'sql',
    description: 'UNION [ALL] SELECT, also with comments or parentheses between the keywords',
    reference: 'OWASP CRS 942190/942270; CWE-89; CAPEC-66',
  },
  {
    id: 'sqli-tautology',
    category: 'sqli',
    severity: 'high',
    parts: [...ARGS_PATH, ...BROWSER_HEADERS],
    pattern: r`['"]\s*\)*\s*(?:or|and|xor|\|\||&&)\s*\(*\s*(?:\d+(?:\.\d+)?|'[^']*'|"[^"]*"|[a-z_])\s*(?:=|<>|!=|<=>|<|>|\blike\b|\brlike\b|\bregexp\b)\s*\(*\s*(?:\d|'|"|[a-z_]\b)`,
    needles: [all(["'", '"'], COMPARISONS, BOOL_WORDS)],
    view: 'sql',
    description: "a closing quote then a boolean comparison of literals: ' OR '1'='1, \" or \"\"=\", ') or ('a'='a",
    reference: 'OWASP CRS 942130/942180; CWE-89; CAPEC-66',
  },
  {
    id: 'sqli-bool-numeric',
    category: 'sqli',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`\b(?:or|and|xor)\s+\(*\s*\d+\s*(?:=|<>|!=|<|>)\s*\d+\s*\)*\s*(?:$|--|#|;|/\*|'|")`,
    needles: [all(['=', '<', '>'], ['or', 'and'])],
    view: 'sql',
    description: 'a numeric tautology ending the value or followed by a comment: 1 OR 1=1--, id=1 AND 1=2',
    reference: 'OWASP CRS 942130; CWE-89; CAPEC-66',
  },
  {
    id: 'sqli-comment',
    category: 'sqli',
    severity: 'medium',
    parts: ARGS_PATH,
    pattern: r`\w['"]\s*\)*\s*(?:--|#|/\*)[\s-]*$|['"]\s*\)*\s*(?:or|and|xor|\|\||&&)\s[^'"]{0,80}?;?\s*(?:--|#)[\s-]*$`,
    needles: [all(['--', '#', '/*'], ["'", '"'])],
    view: 'sql',
    description: "a quote closing a string, then a comment ending the value: admin'--, 1')#, x' AND email IS NULL; --",
    reference: 'OWASP CRS 942440; CWE-89; CAPEC-66',
  },
  {
    id: 'sqli-stacked',
    category: 'sqli',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`(?:['"\d)]|\bnull|\bend)\s*;\s*(?:drop\s+(?:table|database|schema|user)\b|truncate\s+table\b|insert\s+into\s+[\w.\x60\[\]"]+\s*(?:\(|values|select)|delete\s+from\s+[\w.\x60\[\]"]+\s*(?:where\b|;|--|#|$)|update\s+[\w.\x60\[\]"]+\s+set\s+[\w.\x60\[\]"]+\s*=|alter\s+(?:table|user|database)\b|create\s+(?:table|user|database|function|procedure)\b|exec(?:ute)?\s+(?:master\.|xp_|sp_|\(|@)|declare\s+@|shutdown\b|select\s+(?:\*\s+from|@@|(?:pg_)?sleep\s*\(|load_file|version\s*\(|user\s*\(|database\s*\())`,
    needles: [all(';', ['drop', 'truncate', 'insert', 'delete', 'update', 'alter', 'create', 'exec', 'declare', 'shutdown', 'select'])],
    view: 'sql',
    description: 'a stacked statement after a quote or number: 1; DROP TABLE users, \'; EXEC xp_cmdshell',
    reference: 'OWASP CRS 942350/942360; CWE-89; CAPEC-66',
  },
  {
    id: 'sqli-time-blind',
    category: 'sqli',
    severity: 'high',
    parts: [...ARGS_PATH, ...BROWSER_HEADERS],
    pattern: r`(?:\b(?:and|or|xor|select|if|union|when|then|else|not)\b|[(,'"|&=;])\s*\(*\s*(?:sleep\s*\(\s*\d+(?:\.\d+)?\s*\)|benchmark\s*\(\s*\d+\s*,)|\bpg_sleep\s*\(|\bwaitfor\s+(?:delay|time)\s+['"]|\bdbms_pipe\.receive_message\s*\(|\bdbms_lock\.sleep\s*\(`,
    needles: [all(['sleep', 'benchmark'], '('), 'waitfor', 'dbms_'],
    view: 'sql',
    description: "time-based blind probes: AND SLEEP(5), pg_sleep(5), WAITFOR DELAY '0:0:5', BENCHMARK(…)",
    reference: 'OWASP CRS 942160; CWE-89; CAPEC-7',
  },
  {
    id: 'sqli-functions',
    category: 'sqli',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`\b(?:extractvalue|updatexml|load_file|xp_cmdshell|xp_dirtree|sp_oacreate|sp_executesql|utl_http\.request|utl_inaddr\.get_host_\w+|sys_eval|sys_exec|name_const)\s*\(|\binto\s+(?:out|dump)file\b`,
    needles: ['extractvalue', 'updatexml', 'load_file', 'xp_', 'sp_', 'utl_', 'sys_e', 'name_const', 'outfile', 'dumpfile'],
    view: 'sql',
    description: 'error-based and out-of-band functions: EXTRACTVALUE, UPDATEXML, LOAD_FILE, xp_cmdshell, INTO OUTFILE',
    reference: 'OWASP CRS 942151/942190; CWE-89; CAPEC-66',
  },
  {
    id: 'sqli-schema',
    category: 'sqli',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`\binformation_schema\b|\bmysql\.(?:user|db)\b|\bsys\.(?:objects|tables|columns|databases|sysobjects|user_objects)\b|\bpg_(?:catalog|shadow|tables|database)\b|\bsqlite_(?:master|schema)\b|\bsysobjects\b|\bsyscolumns\b|@@(?:version|datadir|hostname|basedir|servername)\b`,
    needles: ['information_schema', 'mysql.', 'sys.', 'pg_', 'sqlite_', 'sysobjects', 'syscolumns', '@@'],
    view: 'sql',
    description: 'database catalog names: information_schema, sqlite_master, pg_catalog, @@version',
    reference: 'OWASP CRS 942140; CWE-89; CAPEC-54',
  },
  {
    id: 'sqli-select',
    category: 'sqli',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`\bselect\s+(?:\*\s+from\b|null\s*,|count\s*\(\s*\*\s*\)|concat(?:_ws)?\s*\(|group_concat\s*\(|@@\w|char\s*\(\s*\d|0x[0-9a-f]{2,}|(?:user|database|version|current_user|schema)\s*\(\s*\))|(?:\|\||[=,(]|\b(?:and|or|union|where|having|exists|in|not|like|rlike|regexp)\s*)\s*\(\s*select\b`,
    needles: [all('select', ['*', 'null', 'count', 'concat', '@@', 'char', '0x', '(', 'user', 'database', 'version', 'schema'])],
    view: 'sql',
    description: 'SELECT forms only SQL uses: SELECT * FROM, SELECT NULL,, SELECT @@…, subqueries after AND/OR/EXISTS/||/=',
    reference: 'OWASP CRS 942100/942270; CWE-89; CAPEC-66',
  },
  {
    id: 'sqli-order-by',
    category: 'sqli',
    severity: 'medium',
    parts: ARGS_PATH,
    pattern: r`['")\d]\s*(?:order|group)\s+by\s+\d+\s*(?:--|#|,|/\*|;|$)|['")]\s*having\s+\d+\s*[=<>]`,
    needles: [all(['order', 'group'], 'by'), 'having'],
    view: 'sql',
    description: "column counting and HAVING probes: 1' ORDER BY 3--, ' HAVING 1=1",
    reference: 'OWASP CRS 942200/942230; CWE-89; CAPEC-66',
  },

  // ---- Cross-site scripting (OWASP CRS 941xxx, CWE-79, CAPEC-63) ----
  {
    id: 'xss-script-tag',
    category: 'xss',
    severity: 'high',
    parts: [...ARGS_PATH, ...BROWSER_HEADERS],
    pattern: r`<\s*/?\s*script\b`,
    needles: [all('<', 'script')],
    view: 'std',
    description: 'a <script> tag',
    reference: 'OWASP CRS 941110; CWE-79; CAPEC-63',
  },
  {
    id: 'xss-event-handler',
    category: 'xss',
    severity: 'high',
    parts: [...ARGS_PATH, ...BROWSER_HEADERS],
    pattern: r`<[a-z][\w:-]*(?:[\s/][^>]*)?[\s/"']on[a-z]{3,}\s*=`,
    needles: [all('<', '=', 'on')],
    view: 'std',
    description: 'a tag with an event handler attribute: <img src=x onerror=…>, <svg/onload=…>',
    reference: 'OWASP CRS 941120/941160; CWE-79; CAPEC-63',
  },
  {
    id: 'xss-attr-breakout',
    category: 'xss',
    severity: 'high',
    parts: [...ARGS, ...BROWSER_HEADERS],
    pattern: r`['"](?:\s*/?\s*|[^'"<>]{0,80}[\s/])on(?:abort|afterprint|animation\w+|auxclick|beforeprint|beforeunload|begin|blur|canplay\w*|change|click|contextmenu|copy|cut|dblclick|drag\w*|drop|end|error|focus\w*|hashchange|input|invalid|key\w+|load\w*|message|mouse\w+|page\w+|paste|pointer\w+|popstate|readystatechange|repeat|reset|resize|scroll|search|select|show|start|submit|toggle|touch\w+|transition\w+|unload|wheel)\s*=`,
    needles: [all(["'", '"'], '=', 'on')],
    view: 'std',
    description: 'a quote closing an attribute, then an event handler: " onmouseover="…',
    reference: 'OWASP CRS 941120; CWE-79; CAPEC-243',
  },
  {
    id: 'xss-js-uri',
    category: 'xss',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`(?:j[\t\n\r]*a[\t\n\r]*v[\t\n\r]*a|v[\t\n\r]*b)[\t\n\r]*s[\t\n\r]*c[\t\n\r]*r[\t\n\r]*i[\t\n\r]*p[\t\n\r]*t[\t\n\r]*:\s*(?://|[a-z_$][\w$.]*[(\x60=\[]|\(|\[|'|"|\x60|void\b)|\blivescript\s*:`,
    needles: [all(['script', '\t', '\n', '\r'], ':')],
    view: 'std',
    description: 'a javascript: or vbscript: URI running code (also with tabs or entities inside the scheme)',
    reference: 'OWASP CRS 941170/941210; CWE-79; CAPEC-63',
  },
  {
    id: 'xss-data-uri',
    category: 'xss',
    severity: 'medium',
    parts: ARGS,
    pattern: r`\bdata\s*:\s*(?:text/html|(?:application|text)/(?:x-)?(?:java|ecma)script)\s*[;,]`,
    needles: [all(['text/html', 'script'], 'data')],
    view: 'std',
    description: 'a data: URI carrying HTML or script',
    reference: 'OWASP CRS 941170; CWE-79; CAPEC-63',
  },
  {
    id: 'xss-js-probe',
    category: 'xss',
    severity: 'medium',
    parts: ARGS_PATH,
    pattern: r`['"]\s*[;,)+\-*/|&]\s*(?:alert|prompt|confirm|eval)\s*[(\x60]|\bstring\.fromcharcode\s*\(|\beval\s*\(\s*(?:atob|unescape|string\.fromcharcode|location|decodeuri\w*)\b|['"]\s*\+\s*document\.cookie\b`,
    needles: [all(['alert', 'prompt', 'confirm', 'eval'], ["'", '"']), 'fromcharcode', all('eval', '('), 'document.cookie'],
    view: 'std',
    description: "breaking out of a script string into a call: ';alert(1)//, \"-prompt(1)-\"; String.fromCharCode(…), eval(atob(…)), '+document.cookie",
    reference: 'OWASP CRS 941180/941390; CWE-79; CAPEC-63',
  },
  {
    id: 'xss-template-injection',
    category: 'xss',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`\{\{[^}]{0,120}?(?:constructor\s*\.\s*constructor|\.\s*constructor\s*\(|\$eval\s*\(|\$on\s*\.\s*constructor|(?:alert|prompt|confirm)\s*[(\x60])`,
    needles: [all('{{', ['constructor', '$eval', 'alert', 'prompt', 'confirm'])],
    view: 'std',
    description: 'client-side template injection (AngularJS sandbox escapes): {{constructor.constructor(\'alert(1)\')()}}',
    reference: 'PortSwigger AngularJS sandbox escapes; CWE-1336; CAPEC-242',
  },
  {
    id: 'xss-dangerous-tag',
    category: 'xss',
    severity: 'medium',
    parts: ARGS_PATH,
    pattern: r`<\s*i?frame\b[^>]*\bsrcdoc\s*=|<\s*meta\b[^>]*\bhttp-equiv\s*=\s*['"]?\s*refresh|<\s*base\b[^>]*\bhref\s*=|<\s*(?:object|embed|applet)\b[^>]*\b(?:data|src|code)\s*=|<\s*svg\b[^>]*>\s*<\s*(?:animate|set|handler)\b`,
    needles: [all('<', ['frame', 'meta', 'base', 'object', 'embed', 'applet', 'svg'])],
    view: 'std',
    description: 'tags that run or load code without a handler: <iframe srcdoc>, <meta http-equiv=refresh>, <base href>, <object data>',
    reference: 'OWASP CRS 941140/941320; CWE-79; CAPEC-63',
  },

  // ---- Path traversal and local file inclusion (OWASP CRS 930xxx, CWE-22, CAPEC-126) ----
  {
    id: 'traversal-path',
    category: 'traversal',
    severity: 'high',
    parts: ['path'],
    pattern: r`(?:^|/)\.{2,}(?:;[^/]*)?(?:/|$)`,
    needles: ['..'],
    view: 'std',
    description: 'a dot-dot segment in the decoded path (%2e%2e, ..%2f, ..\\, overlong %c0%af, ..;/): clients never send one',
    reference: 'OWASP CRS 930100/930110; CWE-22; CAPEC-126',
  },
  {
    id: 'traversal-dotdot',
    category: 'traversal',
    severity: 'high',
    parts: ['query', 'body', 'header:referer'],
    pattern: r`(?:\.{2,}/+){3,}|(?:\.{2,}/+)+(?:etc|proc|windows|winnt|boot|root|home|var|usr|web-inf|\.ssh|\.aws|\.git)(?:/|$)`,
    needles: ['..'],
    view: 'std',
    description: 'three or more ../ in a parameter, or ../ reaching a system directory',
    reference: 'OWASP CRS 930100/930110; CWE-22; CAPEC-126',
  },
  {
    id: 'traversal-sensitive-file',
    category: 'traversal',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`/etc/(?:passwd|shadow|group|gshadow|sudoers|master\.passwd)\b|/proc/(?:self|\d+)/(?:environ|cmdline|maps|mem|fd|status|root|cwd|exe)\b|(?:^|/)(?:boot|win|system)\.ini\b|/windows/(?:system32|win\.ini|system\.ini|repair)\b|/winnt/|c:/(?:boot\.ini\b|inetpub/)|/web-inf/(?:web\.xml|classes|lib)\b|\.ssh/(?:id_\w+|authorized_keys)\b|\.aws/credentials\b|/root/\.\w`,
    needles: ['/etc/', '/proc/', '.ini', '/windows/', '/winnt/', 'c:/', 'web-inf', '.ssh/', '.aws/', '/root/'],
    view: 'std',
    description: 'well-known sensitive files: /etc/passwd, /proc/self/environ, win.ini, WEB-INF/web.xml, .ssh keys',
    reference: 'OWASP CRS 930120; CWE-22; CAPEC-126',
  },
  {
    id: 'traversal-restricted-file',
    category: 'traversal',
    severity: 'medium',
    parts: ['path'],
    pattern: r`(?:^|/)(?:\.git|\.svn|\.hg|\.bzr|\.env(?:\.[\w-]+)?|\.htaccess|\.htpasswd|\.ds_store|\.npmrc|\.bash_history|\.aws|\.ssh|\.docker|wp-config\.php(?:\.\w+)?|web\.config|id_(?:rsa|dsa|ecdsa|ed25519))(?:$|[/;~#])`,
    needles: ['.git', '.svn', '.hg', '.bzr', '.env', '.htaccess', '.htpasswd', '.ds_store', '.npmrc', '.bash_history', '.aws', '.ssh', '.docker', 'wp-config', 'web.config', all('id_', ['rsa', 'dsa', 'ecdsa', 'ed25519'])],
    view: 'std',
    description: 'a request for files that must never be served: /.git/, /.env, /.htpasswd, /wp-config.php, /id_rsa',
    reference: 'OWASP CRS 930130; CWE-538; CAPEC-118',
  },
  {
    id: 'traversal-lfi-wrapper',
    category: 'traversal',
    severity: 'high',
    parts: ARGS,
    pattern: r`\b(?:php|phar|zip|expect|glob|compress\.zlib|compress\.bzip2|ssh2\.\w+|rar|ogg)://`,
    needles: ['php://', 'phar://', 'zip://', 'expect://', 'glob://', 'compress.zlib://', 'compress.bzip2://', 'rar://', 'ogg://', all('ssh2.', '://')],
    view: 'std',
    description: 'PHP stream wrappers used for file inclusion: php://filter, phar://, expect://, zip://',
    reference: 'OWASP CRS 930/933 (LFI, PHP wrappers); CWE-98; CAPEC-252',
  },

  // ---- OS command and code injection (OWASP CRS 932xxx, 933xxx, 944xxx; CWE-78, CWE-94; CAPEC-88) ----
  {
    id: 'cmdi-shellshock',
    category: 'cmdi',
    severity: 'critical',
    parts: EVERYWHERE,
    pattern: r`^\s*\(\)\s*\{[^}]*\}`,
    needles: [all('()', '{', '}')],
    view: 'std',
    description: 'a value that starts with a Bash function definition: () { :; }; (CVE-2014-6271, Shellshock)',
    reference: 'OWASP CRS 932170/932171; CVE-2014-6271; CWE-78',
  },
  {
    id: 'cmdi-unix',
    category: 'cmdi',
    severity: 'critical',
    parts: ARGS,
    pattern: BARE_ID + r`|(?:[;|&]|\$\()\s*` + UNIX_COMMAND,
    needles: [all([';', '|', '&', '$('], UNIX_WORDS)],
    view: 'shell',
    description: 'a command separator (; | & $() then a command with telling arguments: ;id, | cat /etc/passwd, && sleep 5, ; wget http://…',
    reference: 'OWASP CRS 932100/932105/932230; CWE-78; CAPEC-88',
  },
  {
    id: 'cmdi-newline',
    category: 'cmdi',
    severity: 'high',
    parts: ['query'],
    pattern: r`\n\s*(?:(?:/usr)?(?:/s?bin/)?id\s*(?:$|[;&#\n)])|` + UNIX_COMMAND + ')',
    needles: [all('\n', UNIX_WORDS)],
    view: 'shell',
    description: 'a newline (%0a) then a command, in a query parameter',
    reference: 'OWASP CRS 932100; CWE-78; CAPEC-88',
  },
  {
    id: 'cmdi-substitution',
    category: 'cmdi',
    severity: 'critical',
    parts: ARGS,
    pattern: r`(?:^|[=;|&(])\s*\x60\s*id\s*\x60|\x60\s*(?:whoami|uname(?:\s+-\w+)*|sleep\s+\d+|ping\s+-[cn]\s*\d+|nslookup\s+[\w.-]+\.[a-z]{2,}|cat\s+[^\x60]*(?:/etc/|/proc/))\s*\x60|\$\(\s*(?:id|whoami|uname(?:\s+-\w+)*|sleep\s+\d+|ping\s+-[cn]\s*\d+|nslookup\s+[\w.-]+|cat\s+[^)]*(?:/etc/|/proc/)|wget\s+\S+|curl\s+\S+)\s*\)(?:$|[^.\w])`,
    needles: [all(['`', '$('], ['id', 'whoami', 'uname', 'sleep', 'ping', 'nslookup', 'cat', 'wget', 'curl'])],
    view: 'shell',
    description: 'command substitution with a probing command: `id`, $(whoami), `sleep 5`, $(curl …)',
    reference: 'OWASP CRS 932230/932236; CWE-78; CAPEC-88',
  },
  {
    id: 'cmdi-shell-evasion',
    category: 'cmdi',
    severity: 'critical',
    parts: ARGS,
    pattern: r`\$\{ifs\}|\$ifs\b|\{(?:cat|ls|id|wget|curl|nc|bash|sh|echo),[^}]*\}|/\?\?\?/|[;|&\x60(]\s*/bin/(?:ba|z|da|k)?sh\b|/bin/(?:ba|z|da|k)?sh\s+-[ci]\b|/dev/(?:tcp|udp)/|\bnc(?:at)?\s+(?:-\w+\s+)*-e\s|\bbash\s+-i\b|>\s*&\s*/dev/|\bmkfifo\s|\bpowershell(?:\.exe)?\s+(?:-\w+\s+)*-(?:e|enc|encodedcommand|nop|noprofile|w|windowstyle|c|command|exec)\b|\bcmd(?:\.exe)?\s+/[ck]\b|\bcertutil(?:\.exe)?\s+-urlcache|\bbitsadmin\s+/transfer|\bmshta\s+(?:https?|javascript|vbscript):`,
    needles: [all('ifs', '$'), '{cat,', '{ls,', '{id,', '{wget,', '{curl,', '{nc,', '{bash,', '{sh,', '{echo,', '???', '/bin/', '/dev/', all('-e', 'nc'), all('-i', 'bash'), 'mkfifo', 'powershell', all('cmd', '/'), 'certutil', 'bitsadmin', 'mshta'],
    view: 'shell',
    description: 'shell tricks and shells: ${IFS}, {cat,/etc/passwd}, /???/??t, /bin/sh -c, /dev/tcp/, nc -e, powershell -enc, cmd /c',
    reference: 'OWASP CRS 932130/932140/932200; CWE-78; CAPEC-88',
  },
  {
    id: 'cmdi-windows',
    category: 'cmdi',
    severity: 'high',
    parts: ARGS,
    pattern: r`[;|&\x60]\s*(?:type\s+[a-z]:/|dir\s+[a-z]:/|net\s+(?:user|localgroup|view)\b|systeminfo\b|whoami\s*/(?:priv|all|groups)\b|tasklist\b|ipconfig\s*/all\b)`,
    needles: [all([';', '|', '&', '`'], ['type', 'dir', 'net', 'systeminfo', 'whoami', 'tasklist', 'ipconfig'])],
    view: 'std',
    description: 'a separator then a Windows command: & type C:\\…, | net user, & systeminfo',
    reference: 'OWASP CRS 932110/932115; CWE-78; CAPEC-88',
  },
  {
    id: 'cmdi-java-rce',
    category: 'cmdi',
    severity: 'critical',
    parts: [...EVERYWHERE],
    pattern: r`#_memberaccess|@java\.lang\.runtime@|\bruntime\.getruntime\s*\(\s*\)\s*\.\s*exec\b|\bnew\s+(?:java\.lang\.)?processbuilder\s*\(|\bclass\.module\.classloader\b|\bclass\.classloader\b|%\{\s*\(\s*#|\$\{\s*t\s*\(\s*java\.|#\{\s*t\s*\(|\.getclass\s*\(\s*\)\s*\.\s*forname\b|\bjavax?\.script\.scriptenginemanager\b`,
    needles: ['#_member', '@java', 'getruntime', 'processbuilder', 'classloader', all('%{', '#'), all('${', 'java'), all('#{', '('), 'forname', 'scriptengine'],
    view: 'std',
    description: 'Java expression injection: OGNL (Struts, CVE-2017-5638), SpEL T(java.lang.Runtime), Spring4Shell class.module.classLoader',
    reference: 'OWASP CRS 944100/944110/944130; CVE-2017-5638; CVE-2022-22965; CWE-917',
  },
  {
    id: 'cmdi-php',
    category: 'cmdi',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`<\?php\b|<\?=|\b(?:system|passthru|shell_exec|popen|proc_open|pcntl_exec)\s*\(\s*['"$]|\beval\s*\(\s*(?:base64_decode|gzinflate|str_rot13|\$_(?:get|post|request|cookie|server))|\$_(?:get|post|request|cookie|server)\s*\[`,
    needles: ['<?php', '<?=', all(['system', 'passthru', 'shell_exec', 'popen', 'proc_open', 'pcntl_exec'], '('), all('eval', '('), '$_'],
    view: 'std',
    description: "PHP code injection: <?php, system('…'), eval(base64_decode(…)), $_GET[…]",
    reference: 'OWASP CRS 933100/933150/933160; CWE-94; CAPEC-242',
  },

  // ---- JNDI lookups / Log4Shell (OWASP CRS 944150/944151/944152, CVE-2021-44228, CWE-917) ----
  {
    id: 'jndi-lookup',
    category: 'jndi',
    severity: 'critical',
    parts: EVERYWHERE,
    pattern: r`\$\{\s*jndi\s*:`,
    needles: [all('${', 'jndi')],
    view: 'lookup',
    description: 'a Log4j JNDI lookup, after resolving nested lookups: ${jndi:ldap://…}, ${${lower:j}ndi:…}, ${${::-j}${::-n}di:…}',
    reference: 'OWASP CRS 944150/944151; CVE-2021-44228; CWE-917; CAPEC-136',
  },
  {
    id: 'jndi-nested-lookup',
    category: 'jndi',
    severity: 'high',
    parts: EVERYWHERE,
    pattern: r`\$\{\s*(?:\$\{|::-|(?:lower|upper|env|sys|java|date|ctx|main|bundle|base64|k8s|docker|spring|log4j|web|marker|jvmrunargs|sd|event|map)\s*:)`,
    needles: [all('${', ['${', '::-', ':'])],
    view: 'std',
    description: 'Log4j lookups that obfuscate or exfiltrate: ${${…}}, ${::-x}, ${env:AWS_SECRET_ACCESS_KEY}, ${java:version}',
    reference: 'OWASP CRS 944152; CVE-2021-45046; CWE-917',
  },

  // ---- Server-side request forgery (OWASP CRS 934110-style, CWE-918, CAPEC-664) ----
  {
    id: 'ssrf-cloud-metadata',
    category: 'ssrf',
    severity: 'high',
    parts: ARGS,
    pattern: r`(?:^|://|@|=)\s*\[?` + METADATA_IP + r`\.?\]?(?:$|[:/?#])|(?://|@)` + METADATA_NAME + r`\.?(?:$|[:/?#])`,
    needles: ['169.', 'a9', '251', '2852039166', '100.100.100.200', '1684301000', '646464c8', '192.0.0.192', 'fd00:ec2', 'metadata.', 'instance-data'],
    view: 'std',
    description: 'a URL or host value naming a cloud metadata service: 169.254.169.254 (also as 2852039166, 0xa9fea9fe, 0251.0376.0251.0376, [::ffff:a9fe:a9fe]), 100.100.100.200, and URLs to metadata.google.internal, instance-data',
    reference: 'OWASP CRS 934110; CWE-918; CAPEC-664',
  },
  {
    id: 'ssrf-metadata-path',
    category: 'ssrf',
    severity: 'high',
    parts: ARGS_PATH,
    pattern: r`/latest/(?:meta-data|user-data|dynamic/instance-identity|api/token)\b|/computemetadata/v1\b|/metadata/(?:instance|identity/oauth2/token)\b|/openstack/latest/meta_data\.json`,
    needles: ['/latest/', '/computemetadata/', '/metadata/', '/openstack/'],
    view: 'std',
    description: 'cloud metadata API paths: /latest/meta-data/, /computeMetadata/v1/, /metadata/instance',
    reference: 'OWASP CRS 934110; CWE-918; CAPEC-664',
  },
  {
    id: 'ssrf-scheme',
    category: 'ssrf',
    severity: 'medium',
    parts: ARGS,
    pattern: r`(?:^|[=\s'"(<])(?:gopher|dict|tftp|ldap|ldaps|netdoc|jar|file)://|(?:^|[=\s'"(<])jar:https?:`,
    needles: ['gopher://', 'dict://', 'tftp://', 'ldap://', 'ldaps://', 'netdoc://', 'jar:', 'file://'],
    view: 'std',
    description: 'a URL with a scheme used to reach internal services or files: gopher://, dict://, file://, ldap://',
    reference: 'OWASP CRS 934100-style; CWE-918; CAPEC-664',
  },

  // ---- Scanners (OWASP CRS 913100, CAPEC-169) ----
  {
    id: 'scanner-exploit-tool',
    category: 'scanner',
    severity: 'high',
    parts: ['header:user-agent'],
    pattern: r`\b(?:sqlmap|commix|havij|sqlninja|bbqsql|jsql|nosqlmap|xsstrike|xsser|fimap|tplmap|metasploit|struts-pwn|log4j-scan)\b`,
    needles: ['sqlmap', 'commix', 'havij', 'sqlninja', 'bbqsql', 'jsql', 'nosqlmap', 'xsstrike', 'xsser', 'fimap', 'tplmap', 'metasploit', 'struts-pwn', 'log4j-scan'],
    view: 'std',
    description: 'the user agent of an exploitation tool: sqlmap, commix, XSStrike, tplmap, Metasploit',
    reference: 'OWASP CRS 913100; CAPEC-169',
  },
  {
    id: 'scanner-vuln-scanner',
    category: 'scanner',
    severity: 'medium',
    parts: ['header:user-agent'],
    pattern: r`\b(?:nikto|nessus|openvas|acunetix|netsparker|invicti|appscan|webinspect|w3af|arachni|skipfish|wapiti|nuclei|jaeles|wpscan|joomscan|droopescan|whatweb|burpcollaborator|owasp[ _-]?zap|zaproxy|paros|qualys|detectify|grabber|zmeu|morfeus|nmap scripting engine|nmap nse)\b`,
    needles: ['nikto', 'nessus', 'openvas', 'acunetix', 'netsparker', 'invicti', 'appscan', 'webinspect', 'w3af', 'arachni', 'skipfish', 'wapiti', 'nuclei', 'jaeles', 'wpscan', 'joomscan', 'droopescan', 'whatweb', 'burpcollaborator', 'zap', 'paros', 'qualys', 'detectify', 'grabber', 'zmeu', 'morfeus', 'nmap'],
    view: 'std',
    description: 'the user agent of a vulnerability scanner: Nikto, Nessus, OpenVAS, Acunetix, Nuclei, WPScan, ZAP',
    reference: 'OWASP CRS 913100; CAPEC-169',
  },
  {
    id: 'scanner-discovery',
    category: 'scanner',
    severity: 'low',
    parts: ['header:user-agent'],
    pattern: r`\b(?:dirbuster|dirb|gobuster|feroxbuster|ffuf|fuzz faster u fool|wfuzz|dirsearch|masscan|zgrab|zmap|nmap|gospider|hakrawler|httprobe|censysinspect)\b`,
    needles: ['dirb', 'gobuster', 'feroxbuster', 'ffuf', 'fuzz faster', 'wfuzz', 'dirsearch', 'masscan', 'zgrab', 'zmap', 'nmap', 'gospider', 'hakrawler', 'httprobe', 'censysinspect'],
    view: 'std',
    description: 'the user agent of a content-discovery or port scanner: gobuster, ffuf, dirbuster, masscan, zgrab, nmap',
    reference: 'OWASP CRS 913100; CAPEC-169',
  },

  // ---- Unusual methods (OWASP CRS 911100, CAPEC-107) ----
  {
    id: 'method-trace',
    category: 'method',
    severity: 'low',
    parts: ['method'],
    pattern: r`^(?:trace|track)$`,
    needles: [],
    view: 'std',
    description: 'TRACE or TRACK: echoes the request, used for cross-site tracing',
    reference: 'OWASP CRS 911100; CWE-693; CAPEC-107',
  },
  {
    id: 'method-debug',
    category: 'method',
    severity: 'low',
    parts: ['method'],
    pattern: r`^debug$`,
    needles: [],
    view: 'std',
    description: 'DEBUG: ASP.NET remote debugging',
    reference: 'OWASP CRS 911100; CWE-489',
  },
  {
    id: 'method-webdav',
    category: 'method',
    severity: 'low',
    parts: ['method'],
    pattern: r`^(?:propfind|proppatch|mkcol|copy|move|lock|unlock|search|mkactivity|checkout|merge|report|version-control|baseline-control|mkworkspace|orderpatch|acl|bind|rebind|unbind|label|mkcalendar)$`,
    needles: [],
    view: 'std',
    description: 'WebDAV and DeltaV methods (PROPFIND, MKCOL, …): probes unless the API speaks WebDAV (then disable this rule)',
    reference: 'OWASP CRS 911100; CAPEC-169',
  },
  {
    id: 'method-connect',
    category: 'method',
    severity: 'low',
    parts: ['method'],
    pattern: r`^connect$`,
    needles: [],
    view: 'std',
    description: 'CONNECT: an attempt to use the service as a tunnel (tapwire answers 405)',
    reference: 'OWASP CRS 911100; CWE-441',
  },
  {
    id: 'method-purge',
    category: 'method',
    severity: 'low',
    parts: ['method'],
    pattern: r`^(?:purge|ban)$`,
    needles: [],
    view: 'std',
    description: 'PURGE or BAN: cache invalidation from outside',
    reference: 'OWASP CRS 911100; CWE-284',
  },
];
