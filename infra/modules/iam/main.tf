# iam — the role salespipe runs as on AWS (EC2 instance profile or ECS task
# role) and its one policy: exactly the S3 calls salespipe makes on the two
# buckets. ListObjectsV2 and HeadBucket need s3:ListBucket; GET and HEAD of an
# object s3:GetObject; PUT and every multipart step but the abort
# s3:PutObject; DELETE s3:DeleteObject; aborting and resuming multipart
# uploads s3:AbortMultipartUpload and s3:ListMultipartUploadParts. Nothing
# else: no bucket creation, no ACLs, no other bucket, no RDS API (the database
# is reached with its own user and password).

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = var.trusted_services
    }
  }
}

resource "aws_iam_role" "etl" {
  name               = "${var.name}-etl"
  description        = "salespipe ETL: read and write the lake buckets"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "s3" {
  statement {
    sid       = "ListLakeBuckets"
    actions   = ["s3:ListBucket"]
    resources = var.bucket_arns
  }

  statement {
    sid = "ReadWriteLakeObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [for arn in var.bucket_arns : "${arn}/*"]
  }
}

resource "aws_iam_policy" "s3" {
  name        = "${var.name}-etl-s3"
  description = "salespipe: the S3 actions it uses, on its two buckets only"
  policy      = data.aws_iam_policy_document.s3.json
}

resource "aws_iam_role_policy_attachment" "s3" {
  role       = aws_iam_role.etl.name
  policy_arn = aws_iam_policy.s3.arn
}

resource "aws_iam_instance_profile" "etl" {
  name = "${var.name}-etl"
  role = aws_iam_role.etl.name
}
