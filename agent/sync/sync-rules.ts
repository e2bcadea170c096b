/** The sync rule whose join link marks an AD object as the account that signs in (account forest). */
export const ACCOUNT_ENABLED_RULE_PREFIX = "Microsoft.InfromADUserAccountEnabled.";
/** Rule name put on joins that are not the account (for example a resource forest's object). */
export const COMMON_RULE_PREFIX = "Microsoft.InfromADUserCommon.";
export const CLOUD_CONNECTOR = "aad";

export function accountEnabledRule(forest: string): string {
  return `${ACCOUNT_ENABLED_RULE_PREFIX}${forest}`;
}

export function hasAccountEnabledRule(linkRules: readonly string[] | undefined): boolean {
  return linkRules?.some((r) => r.startsWith(ACCOUNT_ENABLED_RULE_PREFIX)) ?? false;
}
