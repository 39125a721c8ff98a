/**
 * A cheap look at what the kernel holds, over netlink: the network
 * namespace's nftables generation (bumped by every committed transaction, by
 * anyone, and by nothing else), a digest per chain of our table's rules, the
 * names of its sets, and a digest of chosen sets' elements. `nft` cannot give
 * any of it without first loading every element of the table (seconds at
 * 10,000 services) and Node has no netlink sockets, so a short Perl program
 * does the talking: perl-base is Essential in Debian and Ubuntu. The element
 * digest is the one elements.ts computes from a plan.
 */
import type { Digest } from './elements.js';

/**
 * Usage: perl -e PROBE_SCRIPT <table> gen|rules [set…]. Prints `gen N` first
 * and last (both equal: nothing committed in between); with `rules`, one
 * `chain <name> <rules> <hash>` per chain (counters left out) and `set <name>`
 * per set; then `elems <set> <count> <h1> <h2>` or `missing <set> <errno>`.
 */
export const PROBE_SCRIPT = String.raw`use strict; use warnings;
my ($table, $mode, @sets) = @ARGV;
socket(my $s, 16, 3, 12) or die "netlink socket: $!\n";
my $seq = 0;
sub attr { my ($t, $v) = @_; my $l = 4 + length $v; return pack('SS', $l, $t) . $v . ("\0" x ((4 - $l % 4) % 4)); }
sub attrs {
  my ($b) = @_; my %o; my $off = 0;
  while ($off + 4 <= length $b) {
    my ($l, $t) = unpack("x$off SS", $b); last if $l < 4;
    push @{$o{$t & 0x7fff}}, substr($b, $off + 4, $l - 4); $off += ($l + 3) & ~3;
  }
  return \%o;
}
sub str { my ($v) = @_; return defined $v ? (split /\0/, $v, 2)[0] // '' : ''; }
sub fnv { my ($h, $b) = @_; $b .= "\0" x ((4 - length($b) % 4) % 4);
  for my $w (unpack('N*', $b)) { $h = (($h ^ $w) * 16777619) % 4294967296; } return $h; }
sub talk {
  my ($type, $flags, $body, $cb) = @_;
  $seq++;
  send($s, pack('LSSLL', 16 + length $body, (10 << 8) | $type, $flags, $seq, 0) . $body, 0) or die "netlink send: $!\n";
  while (1) {
    my $buf; defined recv($s, $buf, 1 << 20, 0) or die "netlink recv: $!\n";
    my $off = 0;
    while ($off + 16 <= length $buf) {
      my ($len, $t, $f, $sq) = unpack("x$off LSSL", $buf);
      last if $len < 16;
      if ($sq == $seq) {
        return 0 if $t == 3;
        if ($t == 2) { my $err = unpack('l', substr($buf, $off + 16, 4)); return $err if $err; return 0 unless $flags & 0x300; }
        elsif ($len >= 20) { $cb->(attrs(substr($buf, $off + 20, $len - 20))); return 0 unless $flags & 0x300; }
      }
      $off += ($len + 3) & ~3;
    }
  }
}
my $nfg = pack('CCn', 2, 0, 0);
sub gen { my $g; my $e = talk(16, 1, pack('CCn', 0, 0, 0), sub { $g = unpack('N', $_[0]{1}[0]); }); die "generation: error $e\n" if $e; print "gen $g\n"; }
sub fmix { my ($x) = @_; $x ^= $x >> 16; $x = ($x * 2246822507) % 4294967296; $x ^= $x >> 13; $x = ($x * 3266489909) % 4294967296; return $x ^ ($x >> 16); }
sub mix { my ($k, $d) = @_; return fmix(fmix($k) ^ $d); }
sub rot { my ($b) = @_; return length $b ? substr($b, 1) . substr($b, 0, 1) : $b; }
gen();
exit 0 if $mode eq 'gen';
if ($mode eq 'rules') {
  my %rules; my @chains;
  my $e = talk(4, 0x301, $nfg, sub { push @chains, str($_[0]{3}[0]) if str($_[0]{1}[0]) eq $table; });
  die "chains: error $e\n" if $e;
  $e = talk(7, 0x301, $nfg . attr(1, "$table\0"), sub {
    my $a = $_[0]; return unless str($a->{1}[0]) eq $table;
    my $b = '';
    for my $x (@{attrs($a->{4}[0] // '')->{1} // []}) {
      my $ex = attrs($x); my $name = str($ex->{1}[0]);
      $b .= $name . "\0" . ($name eq 'counter' ? '' : $ex->{2}[0] // '');
    }
    push @{$rules{str($a->{2}[0])}}, fnv(2166136261, $b . "\0" . ($a->{7}[0] // ''));
  });
  die "rules: error $e\n" if $e;
  for my $c (@chains) { my @r = @{$rules{$c} // []}; print "chain $c ", scalar(@r), ' ', fnv(2166136261, pack('N*', @r)), "\n"; }
  $e = talk(10, 0x301, $nfg . attr(1, "$table\0"), sub { print 'set ', str($_[0]{2}[0]), "\n" if str($_[0]{1}[0]) eq $table; });
  die "sets: error $e\n" if $e;
}
for my $set (@sets) {
  my ($n, $h1, $h2) = (0, 0, 0);
  my $e = talk(13, 0x301, $nfg . attr(1, "$table\0") . attr(2, "$set\0"), sub {
    my $list = $_[0]{3}[0] // return;
    my $off = 0;
    while ($off + 4 <= length $list) {
      my ($l) = unpack("x$off S", $list); last if $l < 4;
      my $el = substr($list, $off + 4, $l - 4); $off += ($l + 3) & ~3;
      my ($key, $data, $fl, $o) = ('', '', 0, 0);
      while ($o + 4 <= length $el) {
        my ($al, $at) = unpack("x$o SS", $el); last if $al < 4;
        my $v = substr($el, $o + 4, $al - 4); $o += ($al + 3) & ~3; $at &= 0x7fff;
        if ($at == 1) { $key = substr($v, 4, unpack('S', $v) - 4); }
        elsif ($at == 2) {
          my ($il, $it) = unpack('SS', $v);
          if (($it & 0x7fff) == 1) { $data = substr($v, 4, $il - 4); }
          else { my $vv = attrs(substr($v, 4, $il - 4)); $data = pack('N', unpack('N', $vv->{1}[0])) . str($vv->{2}[0]); }
        }
        elsif ($at == 3) { $fl = unpack('N', $v); }
      }
      $data .= "\0" x ((4 - length($data) % 4) % 4);
      $data .= pack('N', $fl) if $fl;
      $n++;
      $h1 = ($h1 + mix(unpack('%32N*', $key), unpack('%32N*', $data))) % 4294967296;
      $h2 = ($h2 + mix(unpack('%32N*', rot($key)), unpack('%32N*', rot($data)))) % 4294967296;
    }
  });
  if ($e) { print "missing $set $e\n"; } else { print "elems $set $n $h1 $h2\n"; }
}
gen();
`;

/** What one probe saw. */
export interface ProbeResult {
  /** The generation before and after the probe's reads (equal: the reads saw one state). */
  genBefore: number;
  genAfter: number;
  /** Chain → `<rules>:<hash>` (with `rules`). */
  chains: Map<string, string>;
  /** Every set and map name of the table (with `rules`). */
  sets: Set<string>;
  /** Requested set → its element digest, or undefined when the set does not exist. */
  elements: Map<string, Digest | undefined>;
}

/** Thrown when the probe's output cannot be understood (or the probe failed). */
export class NftProbeError extends Error {
  override readonly name = 'NftProbeError';
}

export function parseProbe(stdout: string): ProbeResult {
  const gens: number[] = [];
  const out: ProbeResult = { genBefore: 0, genAfter: 0, chains: new Map(), sets: new Set(), elements: new Map() };
  for (const line of stdout.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'gen') gens.push(Number(f[1]));
    else if (f[0] === 'chain') out.chains.set(f[1]!, `${f[2]}:${f[3]}`);
    else if (f[0] === 'set') out.sets.add(f[1]!);
    else if (f[0] === 'elems') out.elements.set(f[1]!, { count: Number(f[2]), h1: Number(f[3]), h2: Number(f[4]) });
    else if (f[0] === 'missing') out.elements.set(f[1]!, undefined);
    else if (line !== '') throw new NftProbeError(`unexpected probe output: ${line.slice(0, 200)}`);
  }
  if (gens.length === 0 || gens.some((g) => !Number.isInteger(g))) throw new NftProbeError(`no generation in probe output: ${stdout.slice(0, 200)}`);
  out.genBefore = gens[0]!;
  out.genAfter = gens.at(-1)!;
  return out;
}
