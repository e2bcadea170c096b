import { BerWriter, Control } from "ldapts";

/**
 * LDAP_SERVER_POLICY_HINTS (1.2.840.113556.1.4.2239; Windows Server 2012+, 2008 R2 knows the
 * deprecated ...2066): makes an administrative unicodePwd reset enforce password history, like a
 * user change. Value: SEQUENCE { INTEGER 1 }. Sent non-critical: a DC that does not know it
 * (Samba, old Windows) ignores it instead of refusing the reset with unavailableCriticalExtension.
 */
export class PolicyHintsControl extends Control {
  static readonly OID = "1.2.840.113556.1.4.2239";

  constructor() {
    super(PolicyHintsControl.OID, { critical: false });
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(1);
    value.endSequence();
    writer.writeBuffer(value.buffer, 0x04);
  }
}

/**
 * LDAP_SERVER_SD_FLAGS (1.2.840.113556.1.4.801): which parts of nTSecurityDescriptor to return.
 * DACL only (4): reading the SACL needs a privilege the service account should not have.
 */
export class SdFlagsControl extends Control {
  static readonly OID = "1.2.840.113556.1.4.801";

  constructor(private readonly flags = 4) {
    super(SdFlagsControl.OID, { critical: true });
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(this.flags);
    value.endSequence();
    writer.writeBuffer(value.buffer, 0x04);
  }
}
