import SystemKit

// Issue 9: `ConditionLock` and `JoinableThread` moved to SystemKit. These names keep EnchargeRules,
// which still finds them through `import EnchargeKit`, building until its files import SystemKit;
// then this file goes.

/// SystemKit's `ConditionLock`, under the name EnchargeRules knows it by.
package typealias ConditionLock<State> = SystemKit.ConditionLock<State>
/// SystemKit's `JoinableThread`, under the name EnchargeRules knows it by.
package typealias JoinableThread = SystemKit.JoinableThread
