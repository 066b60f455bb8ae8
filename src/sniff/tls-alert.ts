// RFC 8446 §6: alert messages. The forwarder never speaks TLS except to refuse a client with one
// fatal alert in a plaintext record, so that curl and docker print a meaningful message.

/** RFC 8446 §5.1 ContentType alert(21). */
export const CONTENT_TYPE_ALERT = 21;
/** RFC 8446 §6: AlertLevel fatal(2). */
export const ALERT_LEVEL_FATAL = 2;
/** RFC 8446 §6 AlertDescription values the forwarder sends. */
export const ALERT_DECODE_ERROR = 50;
export const ALERT_INTERNAL_ERROR = 80;
export const ALERT_UNRECOGNIZED_NAME = 112;

export type AlertDescription =
  | typeof ALERT_DECODE_ERROR
  | typeof ALERT_INTERNAL_ERROR
  | typeof ALERT_UNRECOGNIZED_NAME;

/** The bytes of one fatal alert record: legacy_record_version 0x0303 (RFC 8446 §5.1), length 2. */
export function fatalAlertRecord(description: AlertDescription): Uint8Array {
  return Uint8Array.of(CONTENT_TYPE_ALERT, 0x03, 0x03, 0x00, 0x02, ALERT_LEVEL_FATAL, description);
}
