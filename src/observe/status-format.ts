// Figures as the status views print them: bytes, ages, uptimes and times. Pure.

/** Bytes in binary units to three figures or so: "512 B", "1.50 KiB", "20.3 GiB", "117 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** A past interval, coarsely: "12 s ago", "5 min ago", "3 h ago", "2 d ago" (negative: "0 s ago"). */
export function formatAgo(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A duration to the two largest units: "45 s", "3 min 12 s", "5 h 3 min", "2 d 4 h". */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const parts: [number, string][] = [[Math.floor(s / 86_400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'min'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0 s';
  return parts.slice(first, first + 2).filter(([n], i) => i === 0 || n > 0).map(([n, u]) => `${n} ${u}`).join(' ');
}

/** A unix time as "2026-11-28 10:40:12 UTC": stable, sortable, independent of the viewer's locale. */
export function formatTime(unixSeconds: number): string {
  const d = new Date(Math.floor(unixSeconds) * 1000);
  return Number.isNaN(d.getTime()) ? '-' : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * `s` cut to at most `max` characters by replacing its middle with "…", keeping more of the end
 * (the domain) than of the start: "registry-vpc.cn-…n-beijing.aliyuncs.com". `max` below 5 is taken as 5.
 */
export function shortenMiddle(s: string, max: number): string {
  const limit = Math.max(5, max);
  if (s.length <= limit) return s;
  const keep = limit - 1;
  const head = Math.floor(keep * 0.4);
  return `${s.slice(0, head)}…${s.slice(s.length - (keep - head))}`;
}
