import JSONKit
